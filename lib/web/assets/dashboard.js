// sequelize-async dashboard: live counts on the overview (polling <mount>/api/overview every 2 s,
// stopped while the tab is hidden), the throughput charts (uPlot), and confirm() for data-confirm
// forms. A file of its own: the Content-Security-Policy allows no inline script.
(function () {
  'use strict';
  var base = document.body.getAttribute('data-base') || '';

  document.addEventListener('submit', function (e) {
    var f = e.target;
    var msg = f && f.getAttribute && f.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  var table = document.getElementById('queues');
  if (!table) return;

  function text(el, v) { if (el && el.textContent !== String(v)) el.textContent = String(v); }
  function age(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return Math.max(0, Math.round(ms)) + ' ms';
    if (ms < 120000) return Math.round(ms / 1000) + ' s';
    if (ms < 3600000) return Math.round(ms / 60000) + ' min';
    if (ms < 86400000) return Math.round(ms / 3600000) + ' h';
    return Math.round(ms / 86400000) + ' d';
  }
  var COUNTS = ['queued', 'scheduled', 'running', 'succeeded', 'failed'];

  function rowFor(q) {
    var rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) if (rows[i].getAttribute('data-queue') === q) return rows[i];
    return null;
  }

  function render(o) {
    var totals = {};
    COUNTS.forEach(function (c) { totals[c] = 0; });
    var missing = false;
    o.queues.forEach(function (q) {
      COUNTS.forEach(function (c) { totals[c] += q[c]; });
      var tr = rowFor(q.queue);
      if (!tr) { missing = true; return; }
      COUNTS.forEach(function (c) {
        text(tr.querySelector('[data-count="' + c + '"]'), q[c] + ((c === 'succeeded' || c === 'failed') && q.finishedCapped ? '+' : ''));
      });
      text(tr.querySelector('[data-count="oldestDue"]'), age(q.oldestDueMs));
      text(tr.querySelector('[data-count="mirrorLag"]'), q.mirrorLag);
      text(tr.querySelector('[data-count="paused"]'), q.paused ? 'paused' : '');
    });
    COUNTS.forEach(function (c) { text(document.querySelector('[data-total="' + c + '"]'), totals[c]); });
    var up = document.getElementById('updated');
    if (up) text(up, 'Updated ' + new Date(o.at).toLocaleTimeString() + '.');
    // A queue seen for the first time: the table's rows come from the server.
    if (missing) window.location.reload();
  }

  var timer = null;
  function poll() {
    timer = null;
    fetch(base + '/api/overview', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status)); })
      .then(render)
      .catch(function () { /* the next poll tries again */ })
      .then(schedule);
  }
  function schedule() {
    if (timer === null && document.visibilityState === 'visible') timer = setTimeout(poll, 2000);
  }
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') { if (timer === null) poll(); }
    else if (timer !== null) { clearTimeout(timer); timer = null; }
  });
  schedule();

  // Charts.
  var charts = {};
  function draw(box, data) {
    var plot = box.querySelector('.plot');
    if (!plot || typeof uPlot === 'undefined') return;
    var s = data.series;
    if (!s) { plot.outerHTML = '<p class="chart-empty"></p>'; box.querySelector('.chart-empty').textContent = data.unavailable; return; }
    var xs = s.at.map(function (t) { return t / 1000; });
    var rows = [xs, s.processed, s.failed];
    var range = box.getAttribute('data-range');
    if (charts[range]) { charts[range].setData(rows); return; }
    var width = Math.max(320, plot.clientWidth || 560);
    charts[range] = new uPlot({
      width: width, height: 200,
      series: [{}, { label: 'processed', stroke: '#0969da', fill: 'rgba(9,105,218,0.12)', width: 2 },
        { label: 'failed', stroke: '#cf222e', fill: 'rgba(207,34,46,0.12)', width: 2 }],
      axes: [{}, { size: 50 }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
    }, rows, plot);
  }
  function loadCharts() {
    var boxes = document.querySelectorAll('.chart[data-range]');
    Array.prototype.forEach.call(boxes, function (box) {
      if (!box.querySelector('.plot')) return;
      fetch(base + '/api/metrics?range=' + box.getAttribute('data-range'), { credentials: 'same-origin' })
        .then(function (r) { return r.json(); })
        .then(function (d) { draw(box, d); })
        .catch(function () { /* keeps the last chart */ });
    });
  }
  loadCharts();
  setInterval(function () { if (document.visibilityState === 'visible') loadCharts(); }, 30000);
})();

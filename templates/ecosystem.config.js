// PM2 process file (written by `sequelize-async generate`): `pm2 start ecosystem.config.js`.
// One app per worker uid, so each keeps its own name in `pm2 ls` and in `scripts/async.js status`.
// PM2 restarts a worker that crashes or passes max_memory_restart (the god config's memory limit);
// it stops workers with SIGINT, which finishes running tasks first: kill_timeout must exceed --grace.
const WORKERS = Number(process.env.ASYNC_WORKERS || {{WORKERS}});
const GRACE_S = {{GRACE}};

module.exports = {
  apps: Array.from({ length: WORKERS }, (_, i) => ({
    name: `async${i + 1}`,
    cwd: __dirname,
    script: 'scripts/async.js',
    args: ['run', `--uid=${i + 1}`, `--grace=${GRACE_S}`],
    exec_mode: 'fork',
    autorestart: true,
    max_memory_restart: '{{MAX_MEMORY}}M',
    kill_timeout: (GRACE_S + 5) * 1000,
    env: { NODE_ENV: 'production' },
  })),
};

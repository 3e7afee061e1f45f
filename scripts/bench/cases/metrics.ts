// The metrics the scripts record (setup's `metrics`, default on) against none, at concurrency 50.
import { pair } from './pairs';
import type { BenchCase } from '../env';

export const metricsCase: BenchCase = {
  id: 'metrics',
  run: async (env) => {
    await pair(env,
      { id: 'metrics-off', label: 'process c=50, metrics: false (ours)', ctx: { metrics: false } },
      { id: 'metrics-on', label: 'process c=50, metrics recorded (ours, the default)', ctx: { metrics: true } });
  },
  targets: (k) => k.paired('metrics recorded vs metrics: false (c=50)', 'metrics-on', 'metrics-off', 0.95, '≥ 0.95× off'),
};

// Sequelize integration: every model of the configured instance, defined before or after
// setup(), gets instance and static `async` / `schedule`. The newest queue set up on a
// Sequelize instance wins; closing it takes its hook away.
import type { Sequelize, Model, ModelStatic } from 'sequelize';
import type { EnqueueOptions } from '../types';
import type { Queue } from './queue';
import { addMixin } from './queue';

const MIXIN = Symbol.for('sequelize-async.mixin');
let hooks = 0;

export function attachModels(queue: Queue, sequelize: Sequelize): void {
  const attach = (model: ModelStatic<Model>) => {
    const proto = model.prototype as unknown as Record<string | symbol, unknown>;
    const own = Object.getOwnPropertyDescriptor(proto, 'async');
    if (own && !(own.value as Record<symbol, unknown>)?.[MIXIN]) {
      throw new TypeError(`${model.name} already has an instance method 'async'; sequelize-async cannot add its own`);
    }
    const asyncFn = function (this: Model, action: string, opts?: EnqueueOptions) { return queue.async(this, action, opts); };
    const scheduleFn = function (this: Model, at: Date | number, action: string, opts?: EnqueueOptions) { return queue.schedule(this, at, action, opts); };
    for (const [name, fn] of [['async', asyncFn], ['schedule', scheduleFn]] as const) {
      Object.defineProperty(fn, MIXIN, { value: true });
      Object.defineProperty(proto, name, { value: fn, configurable: true, writable: true });
    }
    addMixin(queue, model);
  };
  for (const model of Object.values(sequelize.models)) attach(model);
  const hookName = `sequelize-async-${++hooks}`;
  sequelize.addHook('afterDefine', hookName, (model) => attach(model as ModelStatic<Model>));
  queue.once('close', () => sequelize.removeHook('afterDefine', hookName));
}

// `async`, `schedule` and `every` on the things tasks are about: registered classes and objects get them
// as own (non-enumerable) methods; every model of the configured Sequelize, defined before or
// after setup(), gets them on its class (static) and its prototype (instances). One marker tells
// our methods from an app's own, so setting them up again (a second queue, a re-register)
// replaces ours and never an app's method of the same name. The newest queue set up on a
// Sequelize instance wins; closing it takes its hook away.
import type { Sequelize, Model, ModelStatic } from 'sequelize';
import type { EnqueueOptions } from '../types';
import type { Task } from './task';
import type { RecurringOptions, RecurringSchedule } from './recurring/api';

/** What the mixin calls: the queue's enqueue methods. */
export interface MixinHost {
  async(target: object, action: string, opts?: EnqueueOptions): Promise<Task>;
  schedule(target: object, at: Date | number, action: string, opts?: EnqueueOptions): Promise<Task>;
  every(target: object, pattern: string, action: string, opts?: RecurringOptions): Promise<RecurringSchedule>;
  once(event: 'close', fn: () => void): unknown;
}

const MARK = Symbol.for('sequelize-async.mixin');
const NAMES = ['async', 'schedule', 'every'] as const;

function methods(host: MixinHost): Record<typeof NAMES[number], (...a: never[]) => unknown> {
  const fns = {
    async: function (this: object, action: string, opts?: EnqueueOptions) { return host.async(this, action, opts); },
    schedule: function (this: object, at: Date | number, action: string, opts?: EnqueueOptions) { return host.schedule(this, at, action, opts); },
    every: function (this: object, pattern: string, action: string, opts?: RecurringOptions) { return host.every(this, pattern, action, opts); },
  };
  for (const f of Object.values(fns)) Object.defineProperty(f, MARK, { value: true });
  return fns;
}

/** Defines `async` and `schedule` on `owner`; refuses to replace a method of the app's own. */
function define(owner: object, fns: ReturnType<typeof methods>, label: string): void {
  for (const name of NAMES) {
    const had = Object.getOwnPropertyDescriptor(owner, name);
    if (had && !(had.value as Record<symbol, unknown> | undefined)?.[MARK]) throw new TypeError(`${label} already has its own '${name}'; sequelize-async cannot add its own`);
  }
  for (const name of NAMES) Object.defineProperty(owner, name, { value: fns[name], enumerable: false, configurable: true, writable: true });
}

/** A registered class or object. */
export function addMixin(host: MixinHost, target: object): void {
  define(target, methods(host), `register: ${(target as { name?: string }).name ?? 'target'}`);
}

/** Every model of `sequelize`, now and defined later. */
export function attachModels(host: MixinHost, sequelize: Sequelize, hookName: string): void {
  const fns = methods(host);
  const attach = (model: ModelStatic<Model>) => {
    define(model.prototype, fns, `${model.name} (instances)`);
    define(model, fns, model.name);
  };
  for (const model of Object.values(sequelize.models)) attach(model);
  sequelize.addHook('afterDefine', hookName, (model) => attach(model as ModelStatic<Model>));
  host.once('close', () => sequelize.removeHook('afterDefine', hookName));
}

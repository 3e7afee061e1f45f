// Sequelize integration: every model of the configured instance, defined before or after
// setup(), gets instance and static `async` / `schedule`.
import type { Sequelize, Model, ModelStatic } from 'sequelize';
import type { EnqueueOptions } from '../types';
import type { Queue } from './queue';
import { addMixin } from './queue';

export function attachModels(queue: Queue, sequelize: Sequelize): void {
  const attach = (model: ModelStatic<Model>) => {
    const proto = model.prototype as unknown as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(proto, 'async')) {
      Object.defineProperty(proto, 'async', { value: function (this: Model, action: string, opts?: EnqueueOptions) { return queue.async(this, action, opts); }, configurable: true, writable: true });
      Object.defineProperty(proto, 'schedule', { value: function (this: Model, at: Date | number, action: string, opts?: EnqueueOptions) { return queue.schedule(this, at, action, opts); }, configurable: true, writable: true });
    }
    addMixin(queue, model);
  };
  for (const model of Object.values(sequelize.models)) attach(model);
  sequelize.addHook('afterDefine', (model) => attach(model as ModelStatic<Model>));
}

// What a task is about, as stored: its type (a model or registered name) and object id (a model
// instance's primary key, or null), after checking the action may be called on it.
import type { Model, ModelStatic, Transaction } from 'sequelize';
import type { Registry } from '../registry';

export interface Described { type: string; objectId: string | null }

/** A model class or a registered class/object (anything but a model instance). */
export function describeObject(registry: Registry, target: object, action: string): Described {
  if (target === null || (typeof target !== 'object' && typeof target !== 'function')) {
    throw new TypeError(`async needs a model instance, a model or a registered class/object (got ${String(target)})`);
  }
  const type = registry.nameOf(target);
  if (!type) {
    const n = (target as { name?: string }).name;
    throw new TypeError(`${n ? n : 'this object'} is not registered: call queue.register(${n ?? "'Name', obj"}) first`);
  }
  const fn = registry.resolve(target, action, type);
  if (fn instanceof Error) throw fn;
  return { type, objectId: null };
}

/** A model instance: saved first when new (as the seed did, so the worker can load it). */
export async function describeInstance(registry: Registry, instance: Model, action: string, transaction?: object | null): Promise<Described> {
  const model = instance.constructor as ModelStatic<Model>;
  if (registry.lookup(model.name)?.kind !== 'model') throw new TypeError(`${model.name} is not a model of the sequelize instance given to setup()`);
  const fn = registry.resolve(instance, action, model.name);
  if (fn instanceof Error) throw fn;
  const pks = model.primaryKeyAttributes;
  if (pks.length !== 1) throw new TypeError(`${model.name} has ${pks.length === 0 ? 'no' : 'a composite'} primary key: async tasks need a single-column primary key`);
  if (instance.isNewRecord) await instance.save(transaction ? { transaction: transaction as Transaction } : undefined);
  const pk = instance.get(pks[0]);
  if (pk === null || pk === undefined) throw new TypeError(`${model.name} has no ${pks[0]} value after save`);
  return { type: model.name, objectId: String(pk) };
}

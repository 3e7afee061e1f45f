// What a task may call: registered classes and objects by name, and the models of the configured
// Sequelize. Nothing else is reachable, and nothing is ever evaluated. The same check runs at
// enqueue and in the worker, so a task hash written by hand (or a dashboard's Retry) cannot call
// more than `order.async(...)` could have queued.
//
// On a model only the app's own methods are callable: Sequelize's Model methods (destroy, drop,
// truncate, sync, save, ...), the association accessors Sequelize generates (setItems, ...), and
// its underscore internals are refused unless the model lists them in `static asyncAllow`.
import type { Sequelize, ModelStatic, Model } from 'sequelize';
import type { MethodDefaults, EnqueueOptions } from '../types';

const ACTION_NAME = /^[A-Za-z_$][\w$]*$/;
// Never callable, whatever the target: these reach prototypes or the engine.
const FORBIDDEN = new Set(['constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__',
  '__lookupGetter__', '__lookupSetter__']);
// Our own mixin: a task that queues tasks is never what a stored task means.
const MIXIN = new Set(['async', 'schedule', 'every']);

export type Target = { kind: 'model'; model: ModelStatic<Model> } | { kind: 'object'; object: object };
type Fn = (...a: unknown[]) => unknown;

export class Registry {
  private byName = new Map<string, object>();
  private readonly ModelBase: (abstract new (...a: never[]) => Model) | undefined;

  constructor(private sequelize?: Sequelize) {
    this.ModelBase = sequelize ? (sequelize.constructor as unknown as { Model: typeof Model }).Model : undefined;
  }

  register(name: string, target: object): void {
    if (typeof name !== 'string' || !ACTION_NAME.test(name.replace(/[.:]/g, '_'))) {
      throw new TypeError(`register: ${JSON.stringify(name)} is not a usable name`);
    }
    if (target === null || (typeof target !== 'object' && typeof target !== 'function')) {
      throw new TypeError(`register: ${name} must be a class or an object`);
    }
    const had = this.byName.get(name);
    if (had && had !== target) throw new Error(`register: another object is already registered as ${name}`);
    this.byName.set(name, target);
  }

  /** The model or registered object named `type`, or undefined. */
  lookup(type: string): Target | undefined {
    const model = this.sequelize && Object.prototype.hasOwnProperty.call(this.sequelize.models, type) ? this.sequelize.models[type] : undefined;
    if (model) return { kind: 'model', model };
    const object = this.byName.get(type);
    return object ? { kind: 'object', object } : undefined;
  }

  /** The name a target is known by, for enqueue. */
  nameOf(target: object): string | undefined {
    for (const [name, o] of this.byName) if (o === target) return name;
    const m = target as ModelStatic<Model>;
    if (this.sequelize && typeof target === 'function' && this.sequelize.models[m.name] === m) return m.name;
    return undefined;
  }

  /** Whether `x` is an instance of a model of this Sequelize. */
  isInstance(x: unknown): x is Model {
    return this.ModelBase !== undefined && x instanceof this.ModelBase;
  }

  /**
   * The function `holder[action]` (a registered object or class, a model, or a model instance), or
   * an Error saying why it may not be called and, for a model, how to allow it.
   */
  resolve(holder: object, action: unknown, label: string): Fn | Error {
    const bad = actionNameError(action, label);
    if (bad) return bad;
    const name = action as string;
    if (MIXIN.has(name)) return new TypeError(`${label}#${name} may not be called as a task (it is sequelize-async's own method)`);
    if (typeof holder === 'function' && name in Function.prototype && !Object.prototype.hasOwnProperty.call(holder, name)) {
      return new TypeError(`${label}#${name} may not be called as a task`);
    }
    const fn = (holder as Record<string, unknown>)[name];
    if (typeof fn !== 'function') return new TypeError(`${label}#${name} is not a function`);
    const model = this.modelOf(holder);
    if (model) {
      const why = this.notOwn(model, holder !== model, name);
      if (why && !allowed(model, name, label)) {
        return new TypeError(`${label}#${name} is ${why}, not one of ${model.name}'s own methods, so it may not be queued; `
          + `to allow it, declare it on the model: static asyncAllow = ['${name}']`);
      }
    }
    return fn as Fn;
  }

  private modelOf(holder: object): ModelStatic<Model> | undefined {
    if (!this.ModelBase) return undefined;
    if (this.isInstance(holder)) return holder.constructor as ModelStatic<Model>;
    if (typeof holder === 'function' && holder.prototype instanceof this.ModelBase) return holder as ModelStatic<Model>;
    return undefined;
  }

  /** Why a model's member is Sequelize's rather than the app's (null: the app's own). */
  private notOwn(model: ModelStatic<Model>, instance: boolean, name: string): string | null {
    const Base = this.ModelBase as unknown as Record<string, unknown> & { prototype: object };
    if (instance ? name in Base.prototype : name in Base) return 'a Sequelize Model method';
    if (name.startsWith('_')) return 'a Sequelize internal';
    const assocs = (model as unknown as { associations?: Record<string, { accessors?: Record<string, string> }> }).associations ?? {};
    for (const a of Object.values(assocs)) {
      if (instance && Object.values(a.accessors ?? {}).includes(name)) return 'an association method Sequelize generated';
    }
    return null;
  }

  /** Per-method defaults of `action` (register's `defaults`, or a `static asyncDefaults`), or undefined. */
  defaults(holder: object, action: string, label: string): MethodDefaults | undefined {
    return methodDefaults(holder, action, label);
  }
}

function allowed(model: ModelStatic<Model>, name: string, label: string): boolean {
  const list = (model as unknown as { asyncAllow?: unknown }).asyncAllow;
  if (list === undefined) return false;
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
    throw new TypeError(`${label}.asyncAllow must be an array of method names, like static asyncAllow = ['destroy']`);
  }
  return list.includes(name);
}

/** What is wrong with an action name whatever it is called on (checked before a record is loaded), or null. */
export function actionNameError(action: unknown, label: string): Error | null {
  if (typeof action !== 'string' || !ACTION_NAME.test(action)) {
    return new TypeError(`action must be a method name (got ${JSON.stringify(action)}) for ${label}`);
  }
  if (FORBIDDEN.has(action) || action in Object.prototype) return new TypeError(`${label}#${action} may not be called as a task`);
  return null;
}

// ---- per-method defaults ------------------------------------------------------------------
// `queue.register(Mailer, { defaults: { deliver: { attempts: 5 } } })` stores them under this
// symbol; a class or model may instead declare `static asyncDefaults = {...}`.

const DEFAULTS = Symbol.for('sequelize-async.defaults');
const DEFAULT_KEYS = new Set(['attempts', 'backoff', 'timeout', 'priority', 'queue', 'signal']);

/** Validates `{ method: { attempts, backoff, timeout, priority, queue, signal } }`; throws naming what is wrong. */
export function checkDefaults(defaults: unknown, label: string): Record<string, MethodDefaults> {
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) {
    throw new TypeError(`${label}: defaults must be an object of method name to options, like { deliver: { attempts: 5 } }`);
  }
  const out: Record<string, MethodDefaults> = Object.create(null);
  for (const [method, o] of Object.entries(defaults)) {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TypeError(`${label}: defaults.${method} must be an object of options`);
    for (const k of Object.keys(o)) {
      if (!DEFAULT_KEYS.has(k)) throw new TypeError(`${label}: defaults.${method} has unknown option '${k}' (known: ${[...DEFAULT_KEYS].join(', ')})`);
    }
    const signal = (o as MethodDefaults).signal;
    if (signal !== undefined && typeof signal !== 'boolean') throw new TypeError(`${label}: defaults.${method}.signal must be true or false`);
    out[method] = { ...(o as MethodDefaults) };
  }
  return out;
}

/** Sets the per-method defaults given to `register` on the target. */
export function setDefaults(target: object, defaults: unknown, label: string): void {
  Object.defineProperty(target, DEFAULTS, { value: checkDefaults(defaults, label), configurable: true, enumerable: false, writable: true });
}

/** The defaults of `action` for a registered object/class, a model or a model instance (its class's), or undefined. */
export function methodDefaults(holder: object, action: string, label: string): MethodDefaults | undefined {
  const owners: object[] = [holder];
  const ctor = (holder as { constructor?: unknown }).constructor;
  if (typeof holder !== 'function' && typeof ctor === 'function' && ctor !== Object) owners.push(ctor);
  for (const o of owners) {
    const given = (o as Record<symbol, Record<string, MethodDefaults>>)[DEFAULTS];
    if (given) return Object.prototype.hasOwnProperty.call(given, action) ? given[action] : undefined;
    const declared = (o as { asyncDefaults?: unknown }).asyncDefaults;
    if (declared !== undefined) {
      const d = checkDefaults(declared, `${label}.asyncDefaults`);
      return Object.prototype.hasOwnProperty.call(d, action) ? d[action] : undefined;
    }
  }
  return undefined;
}

/** The defaults that become enqueue options (everything but `signal`, which only the worker uses). */
export function enqueueDefaults(target: object, action: string, label: string): Partial<EnqueueOptions> {
  const d = methodDefaults(target, action, label);
  if (!d) return {};
  const { signal: _signal, ...opts } = d;
  return opts;
}

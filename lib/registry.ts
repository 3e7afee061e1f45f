// What a task may call: registered classes and modules by name, and the models of the
// configured Sequelize. Nothing else is reachable, and nothing is ever evaluated.
import type { Sequelize, ModelStatic, Model } from 'sequelize';

const ACTION_NAME = /^[A-Za-z_$][\w$]*$/;
// Never callable, whatever the target: these reach prototypes or the engine.
const FORBIDDEN = new Set(['constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__',
  '__lookupGetter__', '__lookupSetter__']);

export type Target = { kind: 'model'; model: ModelStatic<Model> } | { kind: 'object'; object: object };

export class Registry {
  private byName = new Map<string, object>();

  constructor(private sequelize?: Sequelize) {}

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
}

/** What is wrong with an action name whatever it is called on (checked before a record is loaded), or null. */
export function actionNameError(action: unknown, label: string): Error | null {
  if (typeof action !== 'string' || !ACTION_NAME.test(action)) {
    return new TypeError(`action must be a method name (got ${JSON.stringify(action)}) for ${label}`);
  }
  if (FORBIDDEN.has(action) || action in Object.prototype) return new TypeError(`${label}#${action} may not be called as a task`);
  return null;
}

/**
 * The function `holder[action]`, or an Error saying why it may not be called. Inherited
 * Object/Function members (toString, call, bind, ...) are refused: only the target's own
 * methods, its class's and its ancestors' below Object are callable.
 */
export function resolveAction(holder: object, action: unknown, label: string): ((...a: unknown[]) => unknown) | Error {
  const bad = actionNameError(action, label);
  if (bad) return bad;
  const name = action as string; // a method name: actionNameError checked it
  if (typeof holder === 'function' && name in Function.prototype && !Object.prototype.hasOwnProperty.call(holder, name)) {
    return new TypeError(`${label}#${name} may not be called as a task`);
  }
  const fn = (holder as Record<string, unknown>)[name];
  if (typeof fn !== 'function') return new TypeError(`${label}#${name} is not a function`);
  return fn as (...a: unknown[]) => unknown;
}

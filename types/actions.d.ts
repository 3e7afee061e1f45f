// Which methods a task may name, and what `args` each takes: derived from the target's own type,
// so `order.async('sendMial')` or `{ args: ['thirty'] }` for `purgeOld(days: number)` fail to compile.
import type { Model } from 'sequelize';
import type { EnqueueOptions } from './options';

// `any` here only to match every function type; nothing a user sees is any.
type AnyFunction = (...args: any[]) => unknown;
type ModelClass = abstract new (...args: any[]) => Model;
type IsAny<T> = 0 extends 1 & T ? true : false;

/** sequelize-async's own methods on a target: never a task. */
export type MixinName = 'async' | 'schedule' | 'every';

/** Members Sequelize gives every model (and its `_internals`): refused unless listed in `static asyncAllow`. */
type Inherited<T> = T extends Model ? keyof Model | `_${string}`
  : T extends ModelClass ? keyof typeof Model | `_${string}` : never;

/** The names in a model's `static asyncAllow = [...] as const` (a plain string[] allows nothing at compile time). */
type AllowList<T> = T extends { readonly asyncAllow: readonly (infer N)[] } ? (string extends N ? never : N) : never;

type MethodKeys<T> = { [K in keyof T]-?: T[K] extends AnyFunction ? K : never }[keyof T] & string;
type OwnKeys<T> = Exclude<keyof T, Inherited<T> | MixinName | 'prototype'>;

type OwnMethods<T> = MethodKeys<Pick<T, OwnKeys<T>>>;

/**
 * The method names `target.async(action)` accepts: the target's own methods (for a model: those
 * the app defined, not Sequelize's, plus those in `static asyncAllow = [...] as const`). A model
 * whose type declares no methods of its own (`sequelize.define(...)`, methods added at runtime)
 * accepts any string: the type knows nothing to check against, the enqueue and the worker check.
 */
export type AsyncAction<T> = IsAny<T> extends true ? string
  : [OwnMethods<T>] extends [never] ? (T extends Model | ModelClass ? string : never)
  : OwnMethods<T> | (AllowList<T> & MethodKeys<T>);

// Structural, so that these types need no DOM or Node lib to find the global AbortSignal.
interface SignalLike { readonly aborted: boolean; readonly reason: unknown; throwIfAborted(): void }
type IsSignal<P> = IsAny<P> extends true ? false
  : [P] extends [SignalLike | undefined] ? ([P] extends [undefined] ? false : true) : false;

/** A parameter list without its trailing AbortSignal, required or optional (the worker passes that one). */
type WithoutSignal<P extends unknown[]> = P extends [...infer Rest, (infer Last)?] ? (IsSignal<Last> extends true ? Rest : P) : P;

/** The `args` a task of `action` on `target` takes: the method's parameters, a trailing AbortSignal left out. */
export type AsyncArgs<T, A> = A extends keyof T ? (T[A] extends AnyFunction ? WithoutSignal<Parameters<T[A]>> : never) : unknown[];

/**
 * The options argument of `async`/`schedule`/`every` for `action`: optional when the method takes
 * no required parameters, else required with `args`.
 */
export type AsyncOptionsArg<T, A> = [] extends AsyncArgs<T, A>
  ? [opts?: EnqueueOptions<AsyncArgs<T, A>>]
  : [opts: EnqueueOptions<AsyncArgs<T, A>> & { args: AsyncArgs<T, A> }];

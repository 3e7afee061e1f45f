// Task states, in one place: which exist, which are final.
import type { TaskState } from '../types';

/** Every state a stored task can be in ('pending' exists only in the process, before a commit). */
export const STATES: readonly Exclude<TaskState, 'pending'>[] = ['queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled'];
export const FINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled'];

export const isState = (s: unknown): s is Exclude<TaskState, 'pending'> => (STATES as readonly unknown[]).includes(s);
export const isFinal = (s: unknown): boolean => (FINAL_STATES as readonly unknown[]).includes(s);

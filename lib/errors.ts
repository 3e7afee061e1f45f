// Errors a user may catch by class.

export class TimeoutError extends Error {
  constructor(message: string) { super(message); this.name = 'TimeoutError'; }
}

/** The model row a task was queued for is gone by the time a worker runs it. */
export class RecordNotFoundError extends Error {
  constructor(message: string) { super(message); this.name = 'RecordNotFoundError'; }
}

/** A task whose hash cannot be run (missing fields, undecodable args, unknown target). */
export class CorruptTaskError extends Error {
  constructor(message: string) { super(message); this.name = 'CorruptTaskError'; }
}

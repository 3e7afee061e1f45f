// The `Type(id)#action` label a task is known by in logs, listings and metrics.

/** `Order(42)#sendMail` for an instance task, `Newsletter#deliverAll` for a class or object. */
export function taskLabel(type: string, objectId: string | null | undefined, action: string): string {
  return objectId ? `${type}(${objectId})#${action}` : `${type}#${action}`;
}

/** `Type#action`: the label without the object id (bounded cardinality, for metrics). */
export const methodLabel = (type: string, action: string): string => `${type}#${action}`;

/** A value now or later: the hot path stays synchronous until a handler really returns a promise. */
export type Maybe<T> = T | Promise<T>

/** `fn(value)`, now when `value` is ready, after it resolves when it is a promise. */
export function chain<T, R> (value: Maybe<T>, fn: (value: T) => Maybe<R>): Maybe<R> {
  return value instanceof Promise ? value.then(fn) : fn(value)
}

/**
 * Call code that may fail either way (a hook, a broker call): a throw or a
 * rejection goes to `failed`, never to the caller; `succeeded` runs once it
 * returned or resolved. Returns a promise (that never rejects) only when `fn`
 * returned one, so a synchronous call stays synchronous.
 *
 * @example
 * callSafely(() => broker.unsubscribe(room), (err) => { logger.error({ err }, 'unsubscribe failed') })
 */
export function callSafely (fn: () => unknown, failed: (error: unknown) => void, succeeded?: () => void): Promise<void> | undefined {
  let result: unknown
  try {
    result = fn()
  } catch (error) {
    failed(error)
    return undefined
  }
  if (result instanceof Promise) return result.then(succeeded === undefined ? ignore : () => { succeeded() }, failed)
  succeeded?.()
  return undefined
}

function ignore (): void {}

/** Run `fn` for each item in order, awaiting only the calls that return a promise. */
export function each<T> (items: readonly T[], fn: (item: T) => unknown, from = 0): Maybe<void> {
  for (let i = from; i < items.length; i++) {
    const result = fn(items[i])
    if (result instanceof Promise) return result.then(() => each(items, fn, i + 1))
  }
}

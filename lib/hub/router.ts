import type { TSchema } from '@sinclair/typebox'
import { compileValidator, type Validator } from '../codec.js'
import { ErrorCodes, InvalidOptionError, codedError } from '../errors.js'
import { resolveRate } from '../limits/options.js'
import type { Rate } from '../limits/token-bucket.js'
import { checkInteger } from '../options.js'
import type { CatalogueEntry, CloseHandler, ErrorHandler, OpenHandler, RawHandler, RequestOptions, TypedHandler, TypeOptions } from './types.js'

interface TypedRegistration {
  handlers: TypedHandler<any>[]
  validator?: Validator
  schema?: TSchema
  description?: string
  limits?: TypeLimits
  /** A request type's reply schema, and its validator. */
  reply?: { schema: TSchema, validator: Validator }
}

/** What `on(type, { maxSize, rate })` declared for a type, enforced by the dispatcher. */
export interface TypeLimits { maxSize?: number, rate?: Required<Rate> }

/** Remove `item` from `list` in place; the returned function of every `add…`. */
function remover<T> (list: T[], item: T): () => void {
  return () => {
    const index = list.indexOf(item)
    if (index !== -1) list.splice(index, 1)
  }
}

/** The message check that names the bad field: `/payload` for the payload itself, `/payload/<path>` below it. */
export function payloadError (validator: Validator, payload: unknown): Error {
  const { path, message } = validator.firstError(payload)
  const fullPath = path === '/' ? '/payload' : `/payload${path}`
  return codedError(ErrorCodes.INVALID_MESSAGE, `${fullPath}: ${message}`, { path: fullPath })
}

/**
 * Who handles what: typed handlers with their payload schemas (the message
 * catalogue the docs show), raw handlers and session hooks. Holds no session state.
 */
export class Router {
  readonly raw: RawHandler[] = []
  readonly open: OpenHandler[] = []
  readonly close: CloseHandler[] = []
  readonly error: ErrorHandler[] = []
  private readonly typed = new Map<string, TypedRegistration>()

  constructor (readonly relayTypes: ReadonlySet<string>, private readonly isReserved: (type: string) => boolean) {}

  on (type: string, options: TypeOptions | Partial<RequestOptions> | undefined, handler: TypedHandler<any> | undefined): void {
    if (this.isReserved(type) && type !== 'room.join' && type !== 'room.leave') {
      throw new InvalidOptionError('type', `"${type}" is a type the server itself sends`)
    }
    const reply = options !== undefined && 'reply' in options ? options.reply : undefined
    if (reply !== undefined && (this.relayTypes.has(type) || type === 'room.join' || type === 'room.leave')) {
      throw new InvalidOptionError(`${type}.reply`, 'a relay type or a built-in type cannot be a request')
    }
    let registration = this.typed.get(type)
    if (registration === undefined) {
      registration = { handlers: [] }
      this.typed.set(type, registration)
    }
    if (options?.schema !== undefined) {
      registration.schema = options.schema
      registration.validator = compileValidator(options.schema)
    }
    if (options?.description !== undefined) registration.description = options.description
    if (reply !== undefined) registration.reply = { schema: reply, validator: compileValidator(reply) }
    if (options?.maxSize !== undefined || options?.rate !== undefined) {
      registration.limits = {
        ...registration.limits,
        ...(options.maxSize === undefined ? {} : { maxSize: checkInteger(`${type}.maxSize`, options.maxSize, 1) }),
        ...(options.rate === undefined ? {} : { rate: resolveRate(`${type}.rate`, options.rate) })
      }
    }
    if (handler !== undefined) registration.handlers.push(handler)
  }

  add<T>(list: T[], handler: T): () => void {
    list.push(handler)
    return remover(list, handler)
  }

  /** Handled by the server: a relay type or a type registered with `on`. */
  isKnown (type: string): boolean {
    return this.relayTypes.has(type) || this.typed.has(type)
  }

  /** The type's declared `maxSize` / `rate`, when it has any. */
  limitsOf (type: string): TypeLimits | undefined {
    return this.typed.get(type)?.limits
  }

  handlersOf (type: string): readonly TypedHandler<any>[] | undefined {
    return this.typed.get(type)?.handlers
  }

  /** Whether `type` was registered with a `reply` schema: its messages are requests. */
  isRequest (type: string): boolean {
    return this.typed.get(type)?.reply !== undefined
  }

  /** Why `reply` breaks the type's reply schema (`path: message`), or undefined when it matches (or the type has none). */
  replyError (type: string, reply: unknown): string | undefined {
    const validator = this.typed.get(type)?.reply?.validator
    if (validator === undefined || validator.check(reply)) return undefined
    const { path, message } = validator.firstError(reply)
    return `${path}: ${message}`
  }

  /** Throws `VIX_ERR_INVALID_MESSAGE` (with the path) when the type has a schema its payload breaks. */
  checkPayload (type: string, payload: Record<string, unknown>): void {
    const validator = this.typed.get(type)?.validator
    if (validator !== undefined && !validator.check(payload)) throw payloadError(validator, payload)
  }

  /** The documented message catalogue: types with a registered schema, and relay types. */
  catalogue (): CatalogueEntry[] {
    const entries = new Map<string, CatalogueEntry>()
    for (const type of this.relayTypes) entries.set(type, { type, relay: true })
    for (const [type, registration] of this.typed) {
      entries.set(type, { type, relay: this.relayTypes.has(type), schema: registration.schema, description: registration.description, ...registration.limits, ...(registration.reply === undefined ? {} : { reply: registration.reply.schema }) })
    }
    return [...entries.values()].sort((a, b) => a.type.localeCompare(b.type))
  }
}

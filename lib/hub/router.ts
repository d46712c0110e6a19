import type { TSchema } from '@sinclair/typebox'
import { compileValidator, type Validator } from '../codec.js'
import { ErrorCodes, InvalidOptionError, codedError } from '../errors.js'
import { resolveRate } from '../limits/options.js'
import type { Rate } from '../limits/token-bucket.js'
import { checkInteger } from '../options.js'
import type { CatalogueEntry, CloseHandler, ErrorHandler, OpenHandler, RawHandler, TypedHandler, TypeOptions } from './types.js'

interface TypedRegistration { handlers: TypedHandler<any>[], validator?: Validator, schema?: TSchema, description?: string, limits?: TypeLimits }

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

  on (type: string, options: TypeOptions | undefined, handler: TypedHandler<any> | undefined): void {
    if (this.isReserved(type) && type !== 'room.join' && type !== 'room.leave') {
      throw new InvalidOptionError('type', `"${type}" is a type the server itself sends`)
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
      entries.set(type, { type, relay: this.relayTypes.has(type), schema: registration.schema, description: registration.description, ...registration.limits })
    }
    return [...entries.values()].sort((a, b) => a.type.localeCompare(b.type))
  }
}

import sjson from 'secure-json-parse'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema } from '@sinclair/typebox'
import type { JsonMessageInput } from '../schemas/message.js'

/** Result of decoding one incoming frame, per the dispatch rules of the wire protocol. */
export type Decoded =
  | { kind: 'raw', data: string | Buffer, notTyped?: NotTyped }
  | { kind: 'typed', data: string, message: JsonMessageInput }
  | { kind: 'invalid', data: string, id?: string, message: string, path: string }

/** Why a text frame is not a typed message: what an HTTP transport, where raw frames have no place, answers. */
export interface NotTyped { message: string, path: string }

const NOT_JSON: NotTyped = { message: '/: the body is not valid JSON', path: '/' }
const NOT_OBJECT: NotTyped = { message: '/: Expected a JSON object with a type', path: '/' }
const NO_TYPE: NotTyped = { message: '/type: Expected required property', path: '/type' }

/** First schema violation as `{ path, message }`, or null when the value is valid. */
export interface Validator {
  check (value: unknown): boolean
  firstError (value: unknown): { path: string, message: string }
}

/** Compile a TypeBox schema once; reuse the check on every frame. */
export function compileValidator (schema: TSchema): Validator {
  const compiled: TypeCheck<TSchema> = TypeCompiler.Compile(schema)
  return {
    check: (value) => compiled.Check(value),
    firstError (value) {
      const error = compiled.Errors(value).First()
      return { path: error?.path || '/', message: error?.message ?? 'does not match the schema' }
    }
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Decode a frame. Text that is not JSON, or JSON without a `type` key, is raw;
 * a JSON object with `type` is validated against the message schema.
 * `__proto__` and `constructor.prototype` keys are stripped while parsing so
 * they never reach an object's prototype chain.
 */
export function decodeFrame (data: string | Buffer, isBinary: boolean, validator: Validator): Decoded {
  if (isBinary) return { kind: 'raw', data: data as Buffer }
  const text = typeof data === 'string' ? data : data.toString('utf8')
  let value: unknown
  try {
    value = sjson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' })
  } catch {
    return { kind: 'raw', data: text, notTyped: NOT_JSON }
  }
  if (!isPlainObject(value)) return { kind: 'raw', data: text, notTyped: NOT_OBJECT }
  if (!Object.hasOwn(value, 'type')) return { kind: 'raw', data: text, notTyped: NO_TYPE }
  if (!validator.check(value)) {
    const { path, message } = validator.firstError(value)
    const id = typeof value.id === 'string' && value.id.length <= 128 ? value.id : undefined
    return { kind: 'invalid', data: text, id, path, message: `${path}: ${message}` }
  }
  return { kind: 'typed', data: text, message: value as JsonMessageInput }
}

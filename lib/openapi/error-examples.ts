import { STATUS_CODES } from 'node:http'
import { errorTable, type ErrorName } from '../../schemas/protocol.js'
import { componentRef, errorExample } from '../../schemas/openapi.js'
import { ErrorResponse } from '../../schemas/message.js'
import type { OpenApiDocument } from './document.js'

/** Realistic values for the `%s` of each message template, and the `path` of the errors that name a field. */
const sampleArguments: Partial<Record<ErrorName, string[]>> = {
  INVALID_MESSAGE: ['/payload/text: Expected string'],
  INVALID_REQUEST: ['/wait: Expected integer'],
  UNKNOWN_TYPE: ['chat.typo'],
  UNAUTHORIZED: ['rejected by authenticate'],
  FORBIDDEN: ['not allowed to join room "general"'],
  NOT_IN_ROOM: ['general'],
  MESSAGE_NOT_FOUND: ['0192f0c4-6d3b-7a51-9a9e-1c1f4b1a2b3c', 'general'],
  PAYLOAD_TOO_LARGE: ['65536'],
  RATE_LIMITED: ['20 messages per second per session'],
  LIMIT_EXCEEDED: ['at most 50 connections per client IP'],
  SERVER_FULL: ['10000'],
  STORE_UNAVAILABLE: ['connect ECONNREFUSED 127.0.0.1:5432'],
  NOT_READY: ['redis down'],
  DEPENDENCY_UNAVAILABLE: ['Redis', 'broker.redis, REDIS_URL=redis://:[redacted]@10.0.0.5:6379', 'connect ECONNREFUSED 10.0.0.5:6379'],
  CLIENT_SCRIPT_MISSING: ['dist/browser/vix-client.js'],
  // In an error frame answering a request (never an HTTP answer), for the error table's sake.
  INVALID_REPLY: ['room.members', '/names: Expected array'],
  // In a system frame (never an HTTP answer), for the error table's sake.
  STREAM_BROKEN: ['general'],
  // Boot-time errors (never an HTTP answer), for the error table's sake.
  INVALID_OPTION: ['maxQueuedFrames', 'must be a positive integer'],
  INVALID_ENV: ['PORT', 'eighty', 'must be an integer'],
  STORE_OPEN: ['./data/messages.db', 'SQLITE_CANTOPEN: unable to open database file']
}
const samplePaths: Partial<Record<ErrorName, string>> = { INVALID_MESSAGE: '/payload/text', INVALID_REQUEST: '/wait' }

const nameByCode = new Map<string, ErrorName>(Object.entries(errorTable).map(([name, entry]) => [entry.code, name as ErrorName]))
const errorSchemaRef = componentRef(ErrorResponse.$id).$ref

/** The body the server sends for the error `name`, as a documented example. */
export function errorBodyExample (name: ErrorName): Record<string, unknown> {
  const { statusCode, code, message } = errorExample(name, ...(sampleArguments[name] ?? []))
  const body: Record<string, unknown> = { statusCode, code, error: STATUS_CODES[statusCode], message }
  const path = samplePaths[name]
  if (path !== undefined) body.path = path
  return body
}

/**
 * The errors an error response can carry: the `VIX_ERR_*` codes its description
 * names that go with its status, else the first code of the table with that status.
 */
export function errorNamesOf (status: number, description: string): ErrorName[] {
  const named = [...new Set(description.match(/VIX_ERR_[A-Z_]+/g) ?? [])]
    .map((code) => nameByCode.get(code))
    .filter((name): name is ErrorName => name !== undefined && errorTable[name].status === status)
  if (named.length > 0) return named
  const first = (Object.keys(errorTable) as ErrorName[]).find((name) => errorTable[name].status === status)
  return first === undefined ? [] : [first]
}

/**
 * Give every error response that answers `VixErrorResponse` one example per
 * error it can carry, each the body the server really sends (status, code,
 * message): without them Swagger UI makes one up from the schema
 * (`statusCode: 0`). Idempotent; returns `document`.
 *
 * @example
 * documentErrorExamples(app.swagger())
 */
export function documentErrorExamples (document: OpenApiDocument): OpenApiDocument {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      for (const [status, response] of Object.entries<any>(operation?.responses ?? {})) {
        const media = response?.content?.['application/json']
        if (!/^[45]\d\d$/.test(status) || media?.schema?.$ref !== errorSchemaRef) continue
        const names = errorNamesOf(Number(status), String(response.description ?? ''))
        if (names.length === 0) continue
        delete media.example
        media.examples = Object.fromEntries(names.map((name) => [errorTable[name].code, { summary: errorTable[name].code, value: errorBodyExample(name) }]))
      }
    }
  }
  return document
}

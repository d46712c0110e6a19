import { STATUS_CODES } from 'node:http'
import { ErrorCodes, codedError, httpStatusOf, isVixError, type VixError } from './errors.js'
import type { DispatchError } from './hub/types.js'

/** The JSON body of every error answer of vix-realtime's HTTP routes (`VixErrorResponse`). */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
  path?: string
}

/** The coded error of a failed dispatch, to throw from a route (the same code an error frame would carry). */
export function errorOfDispatch (result: DispatchError): VixError {
  return codedError(result.code, result.message, { path: result.path, retryAfter: result.retryAfter })
}

interface MaybeCoded {
  code?: unknown
  statusCode?: unknown
  message?: unknown
  path?: unknown
  validation?: Array<{ instancePath?: string, message?: string }>
  validationContext?: string
}

/** Fastify's request errors that mean "the body is not a message we can read". */
const unreadableBody = new Set([
  'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
  'FST_ERR_CTP_EMPTY_TYPE',
  'FST_ERR_CTP_INVALID_TYPE'
])

function body (statusCode: number, code: string, message: string, path?: string): ErrorBody {
  const answer: ErrorBody = { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
  if (path !== undefined) answer.path = path
  return answer
}

/**
 * Turn any error a route can meet into a `VIX_ERR_*` answer: our own coded
 * errors keep their status; Fastify's body-size, content-type and schema
 * validation errors get the matching code; anything else is a 500 that says
 * nothing about its cause (the caller logs it).
 *
 * @example
 * fastify.setErrorHandler((error, request, reply) => {
 *   const answer = httpErrorOf(error, { bodyLimit: 65536 })
 *   reply.code(answer.statusCode).send(answer)
 * })
 */
export function httpErrorOf (error: unknown, limits: { bodyLimit: number }): ErrorBody {
  const coded = (typeof error === 'object' && error !== null ? error : {}) as MaybeCoded
  const code = typeof coded.code === 'string' ? coded.code : ''
  const message = typeof coded.message === 'string' ? coded.message : ''
  if (isVixError(error)) return body(httpStatusOf(error.code), error.code, error.message, error.path)
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return body(413, ErrorCodes.PAYLOAD_TOO_LARGE, `Message larger than ${limits.bodyLimit} bytes`)
  }
  if (code === 'FST_ERR_VALIDATION' && Array.isArray(coded.validation)) {
    const first = coded.validation[0]
    const path = first?.instancePath === undefined || first.instancePath === '' ? '/' : first.instancePath
    return body(400, ErrorCodes.INVALID_REQUEST, `${coded.validationContext ?? 'request'}${path}: ${first?.message ?? 'invalid'}`, path)
  }
  if (unreadableBody.has(code)) return body(400, ErrorCodes.INVALID_MESSAGE, message)
  return body(500, ErrorCodes.INTERNAL, 'Internal error')
}

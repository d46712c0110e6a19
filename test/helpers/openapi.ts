import { documentedOperations } from '../../lib/openapi/operations.js'

export { documentedOperations }

interface Asserter {
  ok: (value: unknown, message: string) => unknown
  equal: (found: unknown, wanted: unknown, message: string) => unknown
}

/**
 * Assert that every operation of `document` is fully documented: a summary, a
 * description, the `realtime` tag, at least one success response, and every
 * 4xx/5xx response described and answering the shared `VixErrorResponse`.
 */
export function assertFullyDocumented (t: Asserter, document: any): void {
  for (const [name, operation] of documentedOperations(document)) {
    t.ok(typeof operation.summary === 'string' && operation.summary.length > 0, `${name} has a summary`)
    t.ok(typeof operation.description === 'string' && operation.description.length > 0, `${name} has a description`)
    t.ok(Array.isArray(operation.tags) && operation.tags.includes('realtime'), `${name} is tagged realtime`)
    const statuses = Object.keys(operation.responses ?? {})
    t.ok(statuses.some((status) => /^[123]/.test(status)), `${name} documents a success response`)
    for (const status of statuses.filter((s) => /^[45]/.test(s))) {
      const response = operation.responses[status]
      t.ok(response.description !== undefined && response.description !== 'Default Response', `${name} ${status} is described`)
      // The shared error body, alone or extended (allOf: VixErrorResponse first, then the fields of that answer).
      const schema = response.content?.['application/json']?.schema
      t.equal(schema?.$ref ?? schema?.allOf?.[0]?.$ref, '#/components/schemas/VixErrorResponse', `${name} ${status} answers VixErrorResponse`)
    }
  }
}

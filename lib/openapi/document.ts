/**
 * The parts of an OpenAPI 3.1 document vix-realtime reads and writes. Kept
 * loose on purpose: @fastify/swagger builds the document, we only add to it.
 */
export interface OpenApiDocument {
  openapi: string
  paths?: Record<string, Record<string, any>>
  components?: { schemas?: Record<string, any>, [key: string]: unknown }
  [key: string]: unknown
}

export { componentRef } from '../../schemas/openapi.js'

/** `base` with the characters a component name may not hold (`[A-Za-z0-9._-]` only) replaced, and a suffix if `taken` has it. */
export function uniqueName (base: string, taken: Record<string, unknown>): string {
  const safe = base.replace(/[^A-Za-z0-9._-]/g, '_')
  let name = safe
  for (let n = 2; Object.hasOwn(taken, name); n++) name = `${safe}-${n}`
  return name
}

/** The document's component schemas, created when absent. */
export function componentSchemas (document: OpenApiDocument): Record<string, any> {
  document.components ??= {}
  document.components.schemas ??= {}
  return document.components.schemas
}

/**
 * Add to `document` the operations and component schemas of `extra` that it
 * lacks. What `document` already has wins: it was built from the same routes.
 */
export function mergeDocuments (document: OpenApiDocument, extra: OpenApiDocument): OpenApiDocument {
  document.paths ??= {}
  for (const [path, item] of Object.entries(extra.paths ?? {})) {
    const target = document.paths[path] ??= {}
    for (const [method, operation] of Object.entries(item)) {
      if (!Object.hasOwn(target, method)) target[method] = operation
    }
  }
  const schemas = componentSchemas(document)
  for (const [name, schema] of Object.entries(extra.components?.schemas ?? {})) {
    if (!Object.hasOwn(schemas, name)) schemas[name] = schema
  }
  return document
}

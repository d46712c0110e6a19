import { isDeepStrictEqual } from 'node:util'
import type { OpenApiDocument } from './document.js'
import { componentSchemas } from './document.js'
import { literalUnionsAsEnums } from './enums.js'

/** The components vix-realtime names after its schemas' `$id`s. */
export const vixComponentPrefix = 'Vix'
const schemasPath = '#/components/schemas/'

/** A copy of a component with every `$ref` target blanked, and its `title` dropped when it is only the `$id` (@fastify/swagger's default adds it). */
function shape (schema: unknown, name: string): unknown {
  const copy = JSON.parse(JSON.stringify(schema), (key, value) => key === '$ref' ? '#' : value)
  if (copy?.title === name) delete copy.title
  return copy
}

/** Replace, in place, every `$ref` to a renamed component. */
function renameReferences (value: unknown, renamed: Map<string, string>): void {
  if (value === null || typeof value !== 'object') return
  for (const [key, child] of Object.entries(value)) {
    if (key === '$ref' && typeof child === 'string' && child.startsWith(schemasPath)) {
      const [name, ...rest] = child.slice(schemasPath.length).split('/')
      const target = renamed.get(name as string)
      if (target !== undefined) (value as Record<string, unknown>)[key] = [schemasPath + target, ...rest].join('/')
    } else {
      renameReferences(child, renamed)
    }
  }
}

/**
 * Give vix-realtime's shared schemas their `$id` names in a document another
 * @fastify/swagger (the application's, with its own `refResolver`) built:
 * each component equal, but for its references, to one of `named` is renamed
 * and every `$ref` to it follows; the ones it lacks are added. The document's
 * own rendering of each component is kept (it matches its OpenAPI version).
 * Idempotent; returns `document`.
 *
 * @example
 * adoptNamedComponents(app.swagger(), { VixErrorResponse: { type: 'object', ... } })
 * // components.schemas['def-6'] is now components.schemas.VixErrorResponse
 */
export function adoptNamedComponents (document: OpenApiDocument, named: Record<string, unknown>): OpenApiDocument {
  const components = componentSchemas(document)
  const wanted = Object.entries(named).filter(([name]) => name.startsWith(vixComponentPrefix))
  const renamed = new Map<string, string>()
  for (const [current, schema] of Object.entries(components)) {
    if (Object.hasOwn(named, current)) continue
    const match = wanted.find(([name, ours]) => !Object.hasOwn(components, name) && isDeepStrictEqual(shape(schema, name), shape(ours, name)))
    if (match === undefined) continue
    renamed.set(current, match[0])
    components[match[0]] = schema
    delete components[current]
  }
  if (renamed.size > 0) renameReferences(document, renamed)
  for (const [name, schema] of wanted) {
    if (!Object.hasOwn(components, name)) components[name] = structuredClone(schema)
    literalUnionsAsEnums(components[name])
  }
  return document
}

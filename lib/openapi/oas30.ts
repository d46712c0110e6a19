/**
 * A JSON Schema (2020-12, as TypeBox writes it and OpenAPI 3.1 takes it)
 * turned into an OpenAPI 3.0 Schema Object, for the components this package
 * writes itself into an app's own 3.0 document (the shared schemas are
 * converted by @fastify/swagger): `examples` becomes `example` (its first),
 * `const` becomes a one-value `enum`, and a union of one typed schema with
 * `null` becomes that schema with `nullable: true`. Returns a new object.
 *
 * @example
 * toOpenApi30({ anyOf: [{ type: 'integer' }, { type: 'null' }] }) // { type: 'integer', nullable: true }
 */
export function toOpenApi30 (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toOpenApi30)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) out[key] = key === 'properties' ? mapValues(value, toOpenApi30) : toOpenApi30(value)
  if (Array.isArray(out.examples)) {
    if (out.examples.length > 0) out.example = out.examples[0]
    delete out.examples
  }
  if ('const' in out) {
    out.enum = [out.const]
    delete out.const
  }
  const members = out.anyOf
  if (Array.isArray(members) && members.length === 2) {
    const typed = members.filter((member) => (member as { type?: unknown }).type !== 'null')
    if (typed.length === 1 && typeof (typed[0] as { type?: unknown }).type === 'string') {
      delete out.anyOf
      return { ...(typed[0] as object), ...out, nullable: true }
    }
  }
  return out
}

function mapValues (value: unknown, map: (entry: unknown) => unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, map(entry)]))
}

/** One member of a union of literals: `{ type, const }`, or `{ type, enum: [one] }` as @fastify/swagger writes a `const`. */
function literalOf (member: unknown): { type: string, value: unknown } | undefined {
  if (member === null || typeof member !== 'object') return undefined
  const { type, const: constant, enum: values, ...rest } = member as Record<string, unknown>
  if (typeof type !== 'string' || Object.keys(rest).length > 0) return undefined
  if (constant !== undefined && values === undefined) return { type, value: constant }
  if (Array.isArray(values) && values.length === 1 && constant === undefined) return { type, value: values[0] }
  return undefined
}

/**
 * Rewrite, in place and at any depth, every `anyOf` of literals of one type
 * (TypeBox's `Type.Union([Type.Literal('a'), ...])`) as the equivalent
 * `{ type, enum: [...] }`, which documentation tools render as an enum rather
 * than `string | string | ...`. The schemas that validate are not touched.
 *
 * @example
 * literalUnionsAsEnums({ anyOf: [{ type: 'string', const: 'a' }, { type: 'string', const: 'b' }] })
 * // { type: 'string', enum: ['a', 'b'] }
 */
export function literalUnionsAsEnums<T> (value: T): T {
  if (Array.isArray(value)) {
    for (const item of value) literalUnionsAsEnums(item)
    return value
  }
  if (value === null || typeof value !== 'object') return value
  const schema = value as Record<string, unknown>
  for (const child of Object.values(schema)) literalUnionsAsEnums(child)
  if (Array.isArray(schema.anyOf) && schema.anyOf.length > 0) {
    const literals = schema.anyOf.map(literalOf)
    const type = literals[0]?.type
    if (literals.every((literal) => literal !== undefined && literal.type === type)) {
      delete schema.anyOf
      schema.type = type
      schema.enum = literals.map((literal) => literal?.value)
    }
  }
  return value
}

const httpMethods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])

/**
 * Every operation of an OpenAPI document as `METHOD /path` → operation object.
 *
 * @example
 * documentedOperations(app.swagger()).get('GET /ws')?.operationId // 'openWebSocket'
 */
export function documentedOperations (document: { paths?: Record<string, Record<string, any>> }): Map<string, any> {
  const operations = new Map<string, any>()
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (httpMethods.has(method)) operations.set(`${method.toUpperCase()} ${path}`, operation)
    }
  }
  return operations
}

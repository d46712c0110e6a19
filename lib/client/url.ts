/** `url` with `params` set in its query (replacing any of the same name); `url` itself is not changed. */
export function withQuery (url: string | URL, params: Record<string, string> | undefined): string {
  const target = new URL(url)
  for (const [key, value] of Object.entries(params ?? {})) target.searchParams.set(key, value)
  return target.toString()
}

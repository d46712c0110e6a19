import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'packages/*/dist/**', 'example-app/public/build/**', 'coverage/**', '.tap/**', 'example-app/public/vendor/**'] }),
  // The layers point one way: plugins → lib → schemas.
  {
    files: ['schemas/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../lib/*', '../plugins/*', 'fastify', '@fastify/*'], message: 'schemas/ holds shapes only: it imports nothing from lib/, plugins/ or Fastify' }] }] }
  },
  {
    files: ['lib/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/plugins/*', 'fastify'], message: 'lib/ is unit-testable without Fastify: no fastify or plugins/ import' }] }] }
  }
]

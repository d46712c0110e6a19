// The package's sources are the server's own client, lib/client: the build bundles them into dist/.
// In this repository, the `@vix-realtime/source` condition (tests, type-check, the example's bundle)
// resolves the package here, to the sources, without a build.
export * from '../../../lib/client/index.js'

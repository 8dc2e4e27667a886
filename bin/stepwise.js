#!/usr/bin/env node
// The stepwise CLI: runs the TypeScript sources through tsx (installed as a dependency).
import { register } from 'tsx/esm/api'
// a reader that stops early (`stepwise solvers | head`) closes stdout: end quietly with 0, no EPIPE stack trace
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(0)
    throw e
  })
register()
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))

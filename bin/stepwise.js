#!/usr/bin/env node
// The stepwise CLI: runs the TypeScript sources through tsx (installed as a dependency).
import { register } from 'tsx/esm/api'
register()
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))

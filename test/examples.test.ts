/**
 * Every example type-checks (npm test runs tsc over examples/) and runs to a zero exit code.
 */
import * as assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { test } from 'node:test'

const dir = path.join(import.meta.dirname, '..', 'examples')
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
  test(`example runs: ${f}`, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, f)], { encoding: 'utf8', timeout: 120_000 })
    assert.equal(r.status, 0, `${f} failed:\n${r.stdout}\n${r.stderr}`)
  })
}

/**
 * Start points for `stepwise sample --xT`: the shipped examples/xT.d16.json, a golden file's x_T, and the
 * README's sample command run end to end.
 */
import * as assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'
import * as Problem from '../src/interop/Problem.ts'

const root = path.join(import.meta.dirname, '..')
const read = (f: string): unknown => JSON.parse(fs.readFileSync(path.join(root, f), 'utf8'))

const cli = (...args: ReadonlyArray<string>): Promise<{ readonly code: number | null; readonly out: string; readonly err: string }> =>
  new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(root, 'bin/stepwise.js'), ...args], { cwd: root })
    let out = ''
    let err = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.stderr.on('data', (b: Buffer) => (err += b.toString()))
    p.on('close', (code) => resolve({ code, out, err }))
  })

test('examples/xT.d16.json: 8 start points for the 16-D golden problems', () => {
  const rows = Problem.startsOrThrow(read('examples/xT.d16.json'), 16, 'examples/xT.d16.json')
  assert.equal(rows.length, 8)
  assert.ok(rows.every((r) => r.length === 16 && r.every(Number.isFinite)))
  assert.throws(() => Problem.startsOrThrow(read('examples/xT.d16.json'), 2, 'examples/xT.d16.json'), /data\[0\]: 16 numbers; expected D = 2/)
})

test("a golden file's x_T is read as start points; its issues carry the x_T path", () => {
  const g = read('test/golden/d2_k3.linear.json') as { readonly x_T: { readonly data: ReadonlyArray<ReadonlyArray<number>> } }
  assert.deepEqual(Problem.startsOrThrow(g, 2, 'g.json'), g.x_T.data)
  assert.throws(() => Problem.startsOrThrow({ ...g, x_T: { data: [[1, 2, 3]] } }, 2, 'g.json'), /x_T\.data\[0\]: 3 numbers; expected D = 2/)
})

test("README's sample commands: examples/xT.d16.json and a golden file as --xT", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-starts-'))
  try {
    const out = path.join(dir, 'y.json')
    const r = await cli('sample', '--problem', 'test/golden/d16_k4.linear.json', '--solver', 'dpmpp-2m', '--nfe', '10', '--xT', 'examples/xT.d16.json', '--out', out)
    assert.equal(r.code, 0, r.err)
    const y = JSON.parse(fs.readFileSync(out, 'utf8')) as { readonly x0: ReadonlyArray<ReadonlyArray<number>>; readonly nfe: number }
    assert.equal(y.nfe, 10)
    assert.ok(y.x0.length === 8 && y.x0.every((row) => row.length === 16 && row.every(Number.isFinite)))
    const g = await cli('sample', '--problem', 'test/golden/d2_k3.linear.json', '--solver', 'ddim', '--nfe', '5', '--xT', 'test/golden/d2_k3.linear.json', '--out', out)
    assert.equal(g.code, 0, g.err)
    assert.match(g.out, /64 rows, NFE 5/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

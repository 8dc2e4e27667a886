/**
 * Issue 12: a new user's bad input never exits 0 and never crashes. Each case runs the real CLI
 * (node bin/stepwise.js …) or the command's functions and checks the exit code and the message
 * (it names the flag or JSON path, what was found and the fix; no stack trace).
 */
import * as assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'

const root = path.join(import.meta.dirname, '..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-validation-'))
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/stepwise.js'), ...args], { encoding: 'utf8', cwd: tmp })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
const golden = path.join(root, 'test/golden/d2_k3.linear.json')
const write = (name: string, v: unknown): string => {
  const f = path.join(tmp, name)
  fs.writeFileSync(f, JSON.stringify(v))
  return f
}
const xT = write('x.json', {
  data: [
    [0.1, -0.3],
    [1.5, 0.2],
  ],
})
/** no stack trace: no 'at file:line' frames, no Node error banners */
const noTrace = (s: string) => assert.doesNotMatch(s, /^\s+at .+:\d+:\d+\)?$|node:internal|Error \[ERR_/m, s)

// -------------------------------------------------------------------------------------------------
// 1. --set values and built documents
// -------------------------------------------------------------------------------------------------

test('--set: a bad value of a declared parameter is a usage error listing the allowed values', () => {
  for (const [id, kv, allowed] of [
    ['dpmpp-3m', 'parity=foo', /one of exact, reference/],
    ['unipc-bh2-2', 'finalCorrector=maybe', /one of true, false/],
    ['lms', 'order=9', /an integer in 1–6/],
    ['ddim-eta', 'eta=-1', /a number ≥ 0/],
    ['hb', 'beta=0', /a number > 0 and ≤ 1/],
    ['euler-churn', 'sTmax=big', /a number ≥ 0 or 'inf'/],
  ] as const) {
    const r = cli('solvers', '--show', id, '--nfe', '10', '--set', kv)
    assert.equal(r.code, 2, `${id} ${kv}: ${r.out}`)
    assert.match(r.err, new RegExp(`--set ${kv.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected`), r.err)
    assert.match(r.err, allowed, r.err)
    assert.equal(r.out, '', 'no document printed')
    noTrace(r.err)
  }
})

test('--set: an unknown key lists the parameters; a word without = is refused', () => {
  const r = cli('solvers', '--show', 'lms', '--nfe', '10', '--set', 'colour=red')
  assert.equal(r.code, 2)
  assert.match(r.err, /--set colour: lms has no parameter 'colour'; its parameters are order/)
  const n = cli('solvers', '--show', 'ddim', '--nfe', '10', '--set', 'eta=1')
  assert.equal(n.code, 2)
  assert.match(n.err, /ddim has no parameters/)
  const w = cli('solvers', '--show', 'lms', '--nfe', '10', '--set', 'order')
  assert.equal(w.code, 2)
  assert.match(w.err, /--set expects key=value, got 'order'/)
})

test('the library build checks --set too (one parser): Solvers.byId(id).build throws on a bad value', async () => {
  const Solvers = await import('../src/solvers/index.ts')
  assert.throws(() => Solvers.byId('lms')!.build({ nfe: 10, set: { order: '9' } }), /--set order=9: expected an integer in 1–6/)
  assert.throws(() => Solvers.byId('dpmpp-3m')!.build({ nfe: 10, set: { parity: 'foo' } }), /one of exact, reference/)
  assert.throws(() => Solvers.byId('mrs-ode-2')!.build({ nfe: 10, set: { eulerAtFinal: 'no' } }), /one of true, false/)
  assert.equal(Solvers.byId('lms')!.build({ nfe: 10, set: { order: '3' } }).steps.length, 10)
})

test('lms --set order=9 no longer runs: sample refuses it, nothing written', () => {
  const o = path.join(tmp, 'lms9.json')
  const r = cli('sample', '--problem', golden, '--solver', 'lms', '--set', 'order=9', '--nfe', '12', '--xT', xT, '--out', o)
  assert.equal(r.code, 2, r.out)
  assert.ok(!fs.existsSync(o))
})

test('score-sde-pc --nfe 1 is an error (each step costs steps + 1 evaluations); --nfe 2 uses 2', () => {
  const r = cli('solvers', '--show', 'score-sde-pc', '--nfe', '1')
  assert.equal(r.code, 2)
  assert.match(r.err, /score-sde-pc --nfe 1: .*each step costs 2 evaluations.*use nfe ≥ 2 or steps = 0/)
  assert.equal(r.out, '')
  const ok = cli('solvers', '--show', 'score-sde-pc', '--nfe', '1', '--set', 'steps=0')
  assert.equal(ok.code, 0, ok.err)
  const f = path.join(tmp, 'pc.json')
  fs.writeFileSync(f, cli('solvers', '--show', 'score-sde-pc', '--nfe', '2').out)
  assert.match(cli('validate', f).out, /NFE 2/)
})

test('from-diffusers --nfe 1000 refuses to write an invalid schedule (the document is checked like validate)', () => {
  const out = path.join(tmp, 'fd1000.json')
  const r = cli('from-diffusers', path.join(root, 'examples/diffusers/scheduler_config.json'), '--nfe', '1000', '--out', out)
  assert.equal(r.code, 1, r.out)
  assert.match(r.err, /at --nfe 1000 is not a valid schedule document \(\d+ issues\):\ngrid\.t\[1\]: /)
  assert.match(r.err, /… and \d+ more/)
  assert.ok(!fs.existsSync(out))
  noTrace(r.err)
})

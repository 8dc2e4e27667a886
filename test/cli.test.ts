/**
 * The `stepwise` command line, run as a user would (node bin/stepwise.js …).
 */
import * as assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'

const root = path.join(import.meta.dirname, '..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-cli-'))
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/stepwise.js'), ...args], { encoding: 'utf8', cwd: tmp })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
const golden = path.join(root, 'test/golden/d2_k3.linear.json')

test('golden: writes stepwise-golden-out/v1 with every run on all N rows, matching the reference', () => {
  const out = path.join(tmp, 'g.json')
  const r = cli('golden', golden, '--out', out)
  assert.equal(r.code, 0, r.err)
  const g = JSON.parse(fs.readFileSync(golden, 'utf8')) as { N: number; runs: { id: string; x0: number[][] }[] }
  const o = JSON.parse(fs.readFileSync(out, 'utf8')) as { format: string; runs: { id: string; nfe: number; x0: number[][] }[] }
  assert.equal(o.format, 'stepwise-golden-out/v1')
  assert.equal(o.runs.length, g.runs.length)
  o.runs.forEach((run, k) => {
    assert.equal(run.id, g.runs[k]!.id)
    assert.equal(run.x0.length, g.N)
    const ref = g.runs[k]!.x0
    ref.forEach((row, n) => row.forEach((v, d) => assert.ok(Math.abs(v - run.x0[n]![d]!) <= 1e-9, `${run.id} row ${n}`)))
  })
  assert.match(r.out, /worst max\|Δ\| vs reference/)
})

test('golden --interpreter tfjs runs on wasm within float32 tolerance', () => {
  const r = cli('golden', golden, '--interpreter', 'tfjs', '--only', 'nfe10')
  assert.equal(r.code, 0, r.err)
  const worst = Number(/worst max\|Δ\| vs reference ([0-9.e+-]+)/.exec(r.out)?.[1])
  assert.ok(worst < 1e-2, `worst ${worst}`)
})

test('solvers lists the required ids; --show prints a document that validates, explains and samples', () => {
  const r = cli('solvers')
  assert.equal(r.code, 0, r.err)
  for (const id of [
    'ddim',
    'dpm-2s',
    'dpm-3s',
    'dpm-2m',
    'dpm-3m',
    'dpmpp-2s',
    'dpmpp-3s',
    'dpmpp-2m',
    'dpmpp-3m',
    'dpmpp-3m-ref',
    'unipc-bh1-2',
    'unipc-bh1-3',
    'unipc-bh2-2',
    'unipc-bh2-3',
    'euler',
    'heun',
    'dpm2',
    'lms',
    'plms',
    'ipndm',
    'deis-tab3',
  ])
    assert.match(r.out, new RegExp(`^${id} `, 'm'), id)
  const show = cli('solvers', '--show', 'unipc-bh2-3', '--nfe', '7', '--grid', 'quadratic')
  assert.equal(show.code, 0, show.err)
  const doc = JSON.parse(show.out) as { format: string; steps: unknown[]; grid: { spacing: string } }
  assert.equal(doc.format, 'stepwise-schedule/v1')
  assert.equal(doc.steps.length, 7)
  assert.equal(doc.grid.spacing, 'time_quadratic')
  const s = path.join(tmp, 's.json')
  fs.writeFileSync(s, show.out)
  assert.equal(cli('validate', s).code, 0)
  const ex = cli('explain', s)
  assert.equal(ex.code, 0, ex.err)
  assert.match(ex.out, /step 6 pred/)
  const x = path.join(tmp, 'x.json')
  fs.writeFileSync(
    x,
    JSON.stringify({
      data: [
        [0.1, -0.3],
        [1.5, 0.2],
      ],
    }),
  )
  const o = path.join(tmp, 'o.json')
  const sm = cli('sample', '--problem', golden, '--schedule', s, '--xT', x, '--out', o)
  assert.equal(sm.code, 0, sm.err)
  const res = JSON.parse(fs.readFileSync(o, 'utf8')) as { x0: number[][]; nfe: number }
  assert.equal(res.nfe, 7)
  assert.equal(res.x0.length, 2)
  assert.ok(res.x0.flat().every(Number.isFinite))
})

test('sample reproduces a golden run from its schedule document', () => {
  const g = JSON.parse(fs.readFileSync(golden, 'utf8')) as { x_T: { data: number[][] }; runs: { id: string; x0: number[][] }[] }
  const run = g.runs.find((r) => r.id === 'dpm_solver.dpmsolver++.multistep.o2.logSNR.nfe10')!
  const s = path.join(tmp, 's2m.json')
  const show = cli('solvers', '--show', 'dpmpp-2m', '--nfe', '10', '--grid', 'logSNR')
  fs.writeFileSync(s, show.out)
  const x = path.join(tmp, 'xg.json')
  fs.writeFileSync(x, JSON.stringify({ data: g.x_T.data }))
  const o = path.join(tmp, 'og.json')
  assert.equal(cli('sample', '--problem', golden, '--schedule', s, '--xT', x, '--out', o).code, 0)
  const res = JSON.parse(fs.readFileSync(o, 'utf8')) as { x0: number[][] }
  run.x0.forEach((row, n) => row.forEach((v, d) => assert.ok(Math.abs(v - res.x0[n]![d]!) <= 1e-9)))
})

test('bad input: clear errors with paths, usage errors exit 2, nothing written', () => {
  const bad = path.join(tmp, 'bad.json')
  fs.writeFileSync(
    bad,
    JSON.stringify({
      format: 'stepwise-schedule/v1',
      grid: { spacing: 'logSNR', steps: 2 },
      steps: [
        { prediction: 'data', order: 2 },
        { prediction: 'data', order: 1, colour: 'red' },
      ],
    }),
  )
  const v = cli('validate', bad)
  assert.equal(v.code, 1)
  assert.match(v.out, /steps\[0\]\.order/)
  assert.match(v.out, /steps\[1\]\.colour/)
  const o = path.join(tmp, 'never.json')
  const sm = cli('sample', '--problem', golden, '--schedule', bad, '--xT', bad, '--out', o)
  assert.equal(sm.code, 1)
  assert.ok(!fs.existsSync(o))
  assert.equal(cli('sample', '--problem', golden, '--bogus', '1').code, 2)
  assert.equal(cli('frobnicate').code, 2)
  const u = cli('solvers', '--show', 'no-such', '--nfe', '5')
  assert.equal(u.code, 2)
  assert.match(u.err, /unknown solver 'no-such'/)
  assert.equal(cli('golden', '--help').code, 0)
})

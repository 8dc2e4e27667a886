/**
 * Golden parity: every run of every golden file, reproduced by stepwise's own constructors with the
 * Float64 interpreter, against the official reference outputs (tolerance 1e-9 absolute, README §Tolerances).
 */
import * as assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { test } from 'node:test'
import * as _ from '../src/interop/Golden.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as Prog from '../src/run/Program.ts'
import * as F from '../src/run/Float64.ts'

const dir = path.join(import.meta.dirname, 'golden')
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))

test('the golden files are present', () => assert.ok(files.length >= 4, `found ${files.length} golden files in ${dir}`))

for (const f of files) {
  test(`golden parity (float64): ${f}`, () => {
    const g = _.decodeGolden(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))
    const ns = _.noiseSchedule(g)
    const model = Gmm.eps(g.problem)
    const xT = _.flatten(g.x_T.data)
    let worst = 0
    for (const run of g.runs) {
      const p = Prog.compileOrThrow(ns, 'eps')(_.scheduleOf(run))
      const r = F.run(p, model)(xT)
      const y = _.rows(r.x, g.problem.D)
      assert.equal(r.nfe, run.nfe, `${run.id}: NFE`)
      const d = _.maxAbs(y, run.x0!)
      worst = Math.max(worst, d)
      // tolerance: README says a float64 reimplementation matches to ~1e-12..1e-10; the issue asks ≤ 1e-9
      assert.ok(d <= 1e-9, `${run.id}: max |Δ| vs reference x0 = ${d}`)
      // all N rows (not only the golden rows): our mean L2 vs the ground truth reproduces the reference's err
      const ml2 = _.meanL2(y, g.ground_truth!.x_0)
      assert.ok(Math.abs(ml2 - run.err!.mean_l2) <= 1e-9 * Math.max(1, run.err!.mean_l2), `${run.id}: mean L2 ${ml2} vs reference ${run.err!.mean_l2}`)
    }
    assert.ok(worst > 0, 'comparisons happened')
  })

  test(`golden grids and evaluation times: ${f}`, () => {
    const raw = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { runs: { id: string; eval_t: number[] }[] }
    const g = _.decodeGolden(raw)
    const ns = _.noiseSchedule(g)
    raw.runs.forEach((run, k) => {
      const p = Prog.compileOrThrow(ns, 'eps')(_.scheduleOf(g.runs[k]!))
      const evalT = p.instrs.flatMap((i) => (i.op === 'eval' ? [i.at.t] : []))
      assert.equal(evalT.length, run.eval_t.length, `${run.id}: number of evaluations`)
      // the reference evaluates k-diffusion runs at t(σ̄(t)), a float64 round trip of ours: 1e-12 relative
      evalT.forEach((t, i) => assert.ok(Math.abs(t - run.eval_t[i]!) <= 1e-12 * Math.max(1, t) + 1e-15, `${run.id}: eval ${i} at t = ${t}, reference ${run.eval_t[i]}`))
    })
  })
}

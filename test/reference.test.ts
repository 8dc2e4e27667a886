import { test } from 'node:test'
import * as assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as Gd from '../src/interop/Golden.ts'
import * as _ from '../src/models/Reference.ts'

const files = ['d2_k3.linear', 'd2_k3.discrete', 'd16_k4.linear', 'd16_k4.discrete']

for (const f of files) {
  test(`Reference.endpoint reproduces ground_truth.x_0 of ${f} (all 64 rows) to ≤ 1e-9`, (t) => {
    const g = Gd.decodeGolden(JSON.parse(fs.readFileSync(new URL(`./golden/${f}.json`, import.meta.url), 'utf8')))
    const ns = Gd.noiseSchedule(g)
    const truth = g.ground_truth!.x_0
    const y = Gd.rows(_.endpoint(g.problem, ns.lambda(ns.T), ns.lambda(ns.t0), Gd.flatten(g.x_T.data)), g.problem.D)
    assert.equal(y.length, 64)
    const dev = Gd.maxAbs(y, truth)
    t.diagnostic(`max |Reference − ground_truth| = ${dev.toExponential(2)}`)
    // tolerance 1e-9 (the brief); measured ≤ 2.3e-12 at the default rtol = atol = 1e-12
    assert.ok(dev <= 1e-9, `max |Reference − ground_truth| = ${dev}`)
    // endpointOf(ns) is the same solve
    assert.deepEqual(
      _.endpointOf(ns)(g.problem, Gd.flatten(g.x_T.data).subarray(0, g.problem.D)),
      _.endpoint(g.problem, ns.lambda(ns.T), ns.lambda(ns.t0), Gd.flatten(g.x_T.data).subarray(0, g.problem.D)),
    )
  })
}

test('Reference.solve: the identity map when λ_T = λ_0, and a looser tolerance moves the answer by about that tolerance', () => {
  const g = {
    K: 2,
    D: 3,
    weights: [0.3, 0.7],
    means: [
      [0.5, -0.2, 0.1],
      [-0.4, 0.3, 0.9],
    ],
    variances: [
      [0.01, 0.04, 0.02],
      [0.05, 0.01, 0.03],
    ],
  }
  const xT = Float64Array.from([0.3, -1.2, 0.8, 1.5, 0.1, -0.7])
  assert.deepEqual(_.endpoint(g, 1, 1, xT), xT)
  const tight = _.endpoint(g, -5, 4.5, xT)
  const loose = _.solve(g, -5, 4.5, { rtol: 1e-8, atol: 1e-8, maxSteps: 10_000 })(xT).x
  const d = Math.max(...tight.map((v, i) => Math.abs(v - loose[i]!)))
  // tolerance: a 1e-8 solve lands within 1e-6 of the 1e-12 one (and is not identical to it)
  assert.ok(d > 0 && d < 1e-6, `|tight − loose| = ${d}`)
})

/**
 * Noise schedules: λ is strictly decreasing, t(λ(t)) = t, α and σ agree with λ = log(α/σ), VP
 * schedules have α² + σ² = 1, and the closed forms agree with their definitions.
 */
import * as assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import * as _ from '../src/core/NoiseSchedule.ts'

const schedules: ReadonlyArray<readonly [_.NoiseSchedule, boolean]> = [
  [_.vpLinear(), true],
  [_.vpCosine(), true],
  [_.vpDiscrete({ betas: _.linearBetas() }), true],
  [_.vpDiscrete({ betas: _.linearBetas(0.00085 ** 0.5, 0.012 ** 0.5).map((b) => b * b) }), true],
  [_.ve(), false],
  [_.edm(), false],
  [_.flow(), false],
]

for (const [ns, vp] of schedules) {
  test(`${ns.name}: t(λ(t)) = t, λ = log α − log σ, λ decreasing${vp ? ', α² + σ² = 1' : ''}`, () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (u, v) => {
        const t = ns.t0 + (ns.T - ns.t0) * u
        const s = ns.t0 + (ns.T - ns.t0) * v
        // round trip to 1e-9 relative (discrete: the piecewise-linear inverse is exact up to rounding)
        assert.ok(Math.abs(ns.tOfLambda(ns.lambda(t)) - t) <= 1e-9 * Math.max(1, t), `t(λ(${t})) = ${ns.tOfLambda(ns.lambda(t))}`)
        const l = Math.log(ns.alpha(t)) - Math.log(ns.sigma(t))
        assert.ok(Math.abs(l - ns.lambda(t)) <= 1e-10 * Math.max(1, Math.abs(l)), `λ(${t})`) // 1e-10 relative
        if (vp) assert.ok(Math.abs(ns.alpha(t) ** 2 + ns.sigma(t) ** 2 - 1) <= 1e-14, `α² + σ² at ${t}`)
        // strictly decreasing wherever the times differ by more than float resolution of λ
        if (Math.abs(s - t) > 1e-9 * Math.max(s, t)) assert.ok(s < t ? ns.lambda(s) > ns.lambda(t) : ns.lambda(s) < ns.lambda(t), `λ decreasing between ${s} and ${t}`)
      }),
      { seed: 42, numRuns: 300 },
    )
  })
}

test('vp-linear: log α_t = −¼t²(β1−β0) − ½tβ0 (closed form)', () => {
  const ns = _.vpLinear(0.1, 20)
  for (const t of [1e-3, 0.1, 0.5, 1]) assert.ok(Math.abs(Math.log(ns.alpha(t)) - (-0.25 * t * t * 19.9 - 0.05 * t)) < 1e-15)
})

test('vp-discrete: log α at the knots is ½·Σ log(1 − β) (DDPM ᾱ)', () => {
  const betas = _.linearBetas()
  const ns = _.vpDiscrete({ betas })
  let acc = 0
  betas.forEach((b, i) => {
    acc += Math.log(1 - b)
    if (i % 97 === 0) assert.ok(Math.abs(Math.log(ns.alpha((i + 1) / 1000)) - 0.5 * acc) < 1e-12, `knot ${i}`)
  })
})

test('flow: α = 1 − t, σ = t; edm: σ = t; ve: σ = σ_min(σ_max/σ_min)^t', () => {
  const f = _.flow()
  const e = _.edm()
  const v = _.ve(0.01, 50)
  for (const t of [0.01, 0.3, 0.9]) {
    assert.equal(f.alpha(t), 1 - t)
    assert.equal(f.sigma(t), t)
    assert.equal(e.sigma(t), t)
    assert.ok(Math.abs(v.sigma(t) - 0.01 * 5000 ** t) < 1e-12 * v.sigma(t))
  }
})

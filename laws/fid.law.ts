/**
 * Laws of the Fréchet distance against closed forms: for commuting (diagonal) covariances
 * FID = ‖μ_a − μ_b‖² + Σ_j (√a_j − √b_j)²; for 2×2 SPD covariances tr (Σ_a Σ_b)^{1/2} = √(tr(Σ_a Σ_b) + 2·√det(Σ_a Σ_b))
 * (the eigenvalues of a 2×2 matrix with a real square root); symmetry; zero on equal moments; and the sample
 * statistics and precision/recall on sets whose answer is known.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import fc from 'fast-check'
import * as _ from '../src/core/Fid.ts'
import * as Noise from '../src/core/Noise.ts'

const close = (a: number, b: number, tol: number) => assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} vs ${b}`)

const arbVec = (d: number) => fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: d, maxLength: d })
const arbPos = (d: number) => fc.array(fc.double({ min: 0.01, max: 4, noNaN: true }), { minLength: d, maxLength: d })

/** a 2×2 SPD matrix R(θ)·diag(l1, l2)·R(θ)ᵀ */
const arbSpd2 = fc.record({ th: fc.double({ min: 0, max: Math.PI, noNaN: true }), l: arbPos(2) }).map(({ th, l }) => {
  const c = Math.cos(th)
  const s = Math.sin(th)
  const [a, b] = l as [number, number]
  return [a * c * c + b * s * s, (a - b) * c * s, (a - b) * c * s, a * s * s + b * c * c]
})

const diag = (v: ReadonlyArray<number>): number[] => v.flatMap((x, i) => v.map((_, j) => (i === j ? x : 0)))

test('commuting covariances: FID = ‖μa − μb‖² + Σ (√a − √b)²', () => {
  fc.assert(
    fc.property(arbVec(5), arbVec(5), arbPos(5), arbPos(5), (ma, mb, va, vb) => {
      const want = ma.reduce((s, x, j) => s + (x - mb[j]!) ** 2, 0) + va.reduce((s, x, j) => s + (Math.sqrt(x) - Math.sqrt(vb[j]!)) ** 2, 0)
      close(_.distance(_.fromMoments(ma, diag(va)), _.fromMoments(mb, diag(vb))), want, 1e-9)
    }),
    { seed: 7, numRuns: 100 },
  )
})

test('2×2 non-commuting covariances: tr (ΣaΣb)^{1/2} = √(tr ΣaΣb + 2√det ΣaΣb); FID is symmetric', () => {
  fc.assert(
    fc.property(arbVec(2), arbVec(2), arbSpd2, arbSpd2, (ma, mb, A, B) => {
      const [a, b, , d] = A as [number, number, number, number]
      const [e, f, , h] = B as [number, number, number, number]
      const p = [a * e + b * f, a * f + b * h, b * e + d * f, b * f + d * h] as const
      const trP = p[0] + p[3]
      const detP = (a * d - b * b) * (e * h - f * f)
      const want = (ma[0]! - mb[0]!) ** 2 + (ma[1]! - mb[1]!) ** 2 + a + d + e + h - 2 * Math.sqrt(trP + 2 * Math.sqrt(detP))
      const sa = _.fromMoments(ma, A)
      const sb = _.fromMoments(mb, B)
      close(_.distance(sa, sb), Math.max(0, want), 1e-8)
      close(_.distance(sb, sa), _.distance(sa, sb), 1e-8)
    }),
    { seed: 11, numRuns: 100 },
  )
})

test('equal moments give 0; sample statistics of N(m, diag(v)) approach (m, v)', () => {
  const m = [1, -2, 0.5]
  const v = [0.25, 1, 4]
  const s = _.fromMoments(m, diag(v))
  assert.ok(_.distance(s, s) < 1e-10)
  const n = 20000
  const z = Noise.normals(3, { step: 0, stream: 0 }, n, 3)
  const f = Float64Array.from(z, (x, i) => m[i % 3]! + Math.sqrt(v[i % 3]!) * x)
  const st = _.stats(f, 3)
  for (let j = 0; j < 3; j++) {
    assert.ok(Math.abs(st.mean[j]! - m[j]!) < 5 * Math.sqrt(v[j]! / n), `mean ${j}`)
    assert.ok(Math.abs(st.cov[j * 3 + j]! - v[j]!) < 0.05 * v[j]!, `var ${j}`)
  }
  // the sampling error of FID between two large samples of the same law is small against a shifted law
  const g = Float64Array.from(Noise.normals(4, { step: 0, stream: 0 }, n, 3), (x, i) => m[i % 3]! + Math.sqrt(v[i % 3]!) * x)
  const same = _.distance(st, _.stats(g, 3))
  const shifted = _.distance(st, _.fromMoments([m[0]! + 1, m[1]!, m[2]!], diag(v)))
  assert.ok(same < 0.01 && Math.abs(shifted - 1) < 0.05, `same ${same}, shifted ${shifted}`)
})

test('precision/recall: a set against itself is (1, 1); far apart sets are (0, 0); a subset has full precision', () => {
  const n = 300
  const a = Float64Array.from(Noise.normals(5, { step: 0, stream: 0 }, n, 2))
  const far = a.map((x) => x + 100)
  assert.deepEqual(_.precisionRecall(a, a, 2), { precision: 1, recall: 1, k: 3 })
  assert.deepEqual(_.precisionRecall(a, far, 2), { precision: 0, recall: 0, k: 3 })
  // generated = the real rows of the left half-plane: all inside the real manifold, covering about half of it
  const left = a.filter((_, i) => a[i - (i % 2)]! < 0)
  const pr = _.precisionRecall(a, left, 2)
  assert.equal(pr.precision, 1)
  assert.ok(pr.recall > 0.4 && pr.recall < 0.8, `recall ${pr.recall}`)
})

/**
 * Stochastic samplers vs their ODE bases: error of the terminal *distribution* against the exact mixture
 * at t_0, at NFE 5/10/20/100/500. Problem: VP-linear, the 2-D 3-component Gmm.random(3, 2, 10) of
 * laws/stochastic.law.ts; N = 4000 samples from seeded x_T (Gmm.normals seed 99) and noise seed 5.
 * Metrics: SW₂ = sliced 2-Wasserstein distance to 200 000 exact mixture samples (64 seeded directions;
 * the sampling floor of N = 4000 exact samples is printed), and max|z| = the largest of the 15 per-component
 * statistics (mass, mean and variance per dimension, after assigning each sample to its most probable
 * component) in standard errors (≤ 4: indistinguishable from the mixture at N = 4000).
 *
 *   node --import tsx bench/stochastic.ts > bench/RESULTS.stochastic.table.md
 */
import * as Gmm from '../src/core/Gmm.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as F from '../src/run/Float64.ts'
import * as Solvers from '../src/solvers/index.ts'
import type { GridKind } from '../src/solvers/common.ts'

// -------------------------------------------------------------------------------------------------
// setup
// -------------------------------------------------------------------------------------------------

const ns = NS.vpLinear()
const g = Gmm.random(3, 2, 10)
const D = 2
const N = 4000
const REF = 200_000
const DIRS = 64
const NFES = [5, 10, 20, 100, 500] as const
const p0 = NS.point(ns)(ns.t0)
const comps = g.means.map((m, k) => ({ w: g.weights[k]!, mu: m.map((v) => p0.alpha * v), v: g.variances[k]!.map((s2) => p0.alpha ** 2 * s2 + p0.sigma ** 2) }))

/** n exact samples of the mixture at t_0 (component by a seeded uniform, then Gaussian) */
const exactSamples = (n: number, seed: number): Float64Array => {
  const u = Gmm.mulberry32(seed)
  const z = Gmm.normals(n * D, seed + 1)
  const out = new Float64Array(n * D)
  for (let b = 0; b < n; b++) {
    let c = u()
    let k = 0
    while (k < comps.length - 1 && c > comps[k]!.w) c -= comps[k++]!.w
    for (let d = 0; d < D; d++) out[b * D + d] = comps[k]!.mu[d]! + Math.sqrt(comps[k]!.v[d]!) * z[b * D + d]!
  }
  return out
}

const dirs = (() => {
  const z = Gmm.normals(DIRS * D, 12345)
  return Array.from({ length: DIRS }, (_, j) => {
    const v = Array.from({ length: D }, (_, d) => z[j * D + d]!)
    const n = Math.hypot(...v)
    return v.map((x) => x / n)
  })
})()

/** sorted projections of samples on each direction */
const projections = (x: Float64Array): ReadonlyArray<Float64Array> => dirs.map((w) => Float64Array.from({ length: x.length / D }, (_, b) => w.reduce((a, wd, d) => a + wd * x[b * D + d]!, 0)).sort())

const reference = projections(exactSamples(REF, 1))

/** SW₂: sqrt(mean over directions of ∫(F⁻¹ − G⁻¹)²), the reference quantile at the sample's midpoint levels */
const sw2 = (x: Float64Array): number => {
  const px = projections(x)
  const total = px.reduce((acc, p, j) => {
    const r = reference[j]!
    let s = 0
    for (let i = 0; i < p.length; i++) s += (p[i]! - r[Math.floor(((i + 0.5) / p.length) * r.length)]!) ** 2
    return acc + s / p.length
  }, 0)
  return Math.sqrt(total / DIRS)
}

/** the largest |z| of the 15 per-component statistics (as laws/stochastic.law.ts) */
const maxZ = (x: Float64Array): number => {
  const logp = (b: number, k: number): number => Math.log(comps[k]!.w) - 0.5 * comps[k]!.mu.reduce((a, m, d) => a + (x[b * D + d]! - m) ** 2 / comps[k]!.v[d]! + Math.log(comps[k]!.v[d]!), 0)
  const groups = comps.map(() => [] as number[])
  for (let b = 0; b < N; b++) groups[comps.reduce((best, _c, k) => (logp(b, k) > logp(b, best) ? k : best), 0)]!.push(b)
  return Math.max(
    ...comps.flatMap((cp, k) => {
      const rows = groups[k]!
      const n = rows.length
      const zs = [(n / N - cp.w) / Math.sqrt((cp.w * (1 - cp.w)) / N)]
      for (let d = 0; d < D; d++) {
        const m = rows.reduce((a, b) => a + x[b * D + d]!, 0) / n
        const v = rows.reduce((a, b) => a + (x[b * D + d]! - m) ** 2, 0) / (n - 1)
        zs.push((m - cp.mu[d]!) / Math.sqrt(cp.v[d]! / n), (v - cp.v[d]!) / (cp.v[d]! * Math.sqrt(2 / (n - 1))))
      }
      return zs.map(Math.abs)
    }),
  )
}

// -------------------------------------------------------------------------------------------------
// runs
// -------------------------------------------------------------------------------------------------

/** [row label, solver id, grid, set]: each stochastic solver follows its ODE base */
const rows: ReadonlyArray<readonly [string, string, GridKind | undefined, Readonly<Record<string, string>>]> = [
  ['ddim (ODE)', 'ddim', undefined, {}],
  ['ddpm = ddim-eta(1) = sde-dpmpp-1', 'ddpm', undefined, {}],
  ['ddim (ODE), logSNR', 'ddim', 'logSNR', {}],
  ['ddpm, logSNR', 'ddpm', 'logSNR', {}],
  ['euler (ODE)', 'euler', undefined, {}],
  ['euler-ancestral', 'euler-ancestral', undefined, {}],
  ['euler-churn (S_churn 40)', 'euler-churn', undefined, {}],
  ['heun (ODE)', 'heun', undefined, {}],
  ['heun-churn (S_churn 40)', 'heun-churn', undefined, {}],
  ['k-dpmpp-2m (ODE)', 'k-dpmpp-2m', undefined, {}],
  ['sde-dpmpp-2m', 'sde-dpmpp-2m', undefined, {}],
  ['k-dpmpp-3m (ODE)', 'k-dpmpp-3m', undefined, {}],
  ['sde-dpmpp-3m', 'sde-dpmpp-3m', undefined, {}],
  ['score-sde-pc (RD + Langevin)', 'score-sde-pc', undefined, {}],
  ['score-sde-pc, parity=reference', 'score-sde-pc', undefined, { parity: 'reference' }],
]

const xT = Gmm.normals(N * D, 99)
const cell = (x: Float64Array): string => `${sw2(x).toFixed(4)} / ${maxZ(x).toFixed(1)}`
const lines: string[] = []
lines.push(`| solver | grid | ${NFES.map((n) => `NFE ${n}`).join(' | ')} |`)
lines.push(`|---|---|${NFES.map(() => '---:').join('|')}|`)
const started = performance.now()
for (const [label, id, grid, set] of rows) {
  const sv = Solvers.byId(id)
  if (sv === undefined) throw new Error(`unknown solver ${id}`)
  const cells = NFES.map((nfe) => {
    const p = Prog.compileOrThrow(ns, 'eps')(sv.build({ nfe, ...(grid === undefined ? {} : { grid }), set }))
    return cell(F.run(p, Gmm.eps(g), { D, seed: 5 })(xT).x)
  })
  lines.push(`| ${label} | ${grid ?? sv.defaultGrid} | ${cells.join(' | ')} |`)
}
// the sampling floor: exact samples of the same size (SW₂ is dominated by how the N samples split between the
// components, a multinomial fluctuation: any value in this range is "exact" at N = 4000)
const floors = Array.from({ length: 8 }, (_, j) => exactSamples(N, 777 + 10 * j))
const range = (f: (x: Float64Array) => number, digits: number) => {
  const v = floors.map(f)
  return `${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}`
}
lines.push(`| *8 exact samples of N = ${N}: the floor* | | ${range(sw2, 4)} / ${range(maxZ, 1)} | | | | |`)
console.log(`SW₂ / max|z| vs the exact mixture at t_0 (VP-linear, Gmm.random(3, 2, 10), N = ${N}, x_T seed 99, noise seed 5)\n`)
console.log(lines.join('\n'))
console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`)

/**
 * MRS vs the original IR-SDE samplers on Gaussian mixtures under the mean-reverting (IR-SDE, cosine θ,
 * α_T = 0.005) schedule, at NFE 5/10/20, for λ_∞ = 10/255 and the DA-CLIP/MRS configuration's 50/255.
 *
 *   node --import tsx bench/mr.ts
 *
 * ODE: mean over rows of ‖x − x_exact‖₂ against the exact PF-ODE endpoint (MeanReverting.endpoint, 1e-12),
 * on a panel of 12 mixtures (K4 D2, K4 D8, K8 D16 × seeds 1–4, component std 0.1–0.3, 16 rows, μ ~ N(0, 0.25));
 * ratio = Euler error ÷ MRS error (geometric mean, min, max over the panel); speed-up = the NFE Euler needs to
 * reach MRS's error ÷ MRS's NFE (geometric mean). SDE: the exact 1-D Wasserstein-1 distance per dimension
 * between 20 000 samples and the data mixture p(x0 | μ) (K4 D2 seed 11), Euler–Maruyama vs MRS-SDE.
 * Everything is deterministic (fixed seeds, counter-based noise).
 */
import * as Gmm from '../src/core/Gmm.ts'
import * as MR from '../src/models/MeanReverting.ts'
import * as Prog from '../src/run/Program.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as F from '../src/run/Float64.ts'
import * as MRS from '../src/solvers/MeanReverting.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const NFES = [5, 10, 20] as const
const LAMBDAS = [10 / 255, 50 / 255] as const

const gmean = (xs: ReadonlyArray<number>): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length)
const f1 = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1))
const e2 = (x: number): string => x.toExponential(2)

/** mean over rows of ‖x − y‖₂ */
const meanL2 = (x: Float64Array, y: Float64Array, D: number): number => {
  let s = 0
  for (let o = 0; o < x.length; o += D) {
    let q = 0
    for (let d = 0; d < D; d++) q += (x[o + d]! - y[o + d]!) ** 2
    s += Math.sqrt(q)
  }
  return s / (x.length / D)
}

/** erf(x): Maclaurin series for |x| < 2.5, else the continued fraction of erfc (≈ 1e-15) */
const erf = (x: number): number => {
  const ax = Math.abs(x)
  if (ax > 6) return Math.sign(x)
  if (ax < 2.5) {
    let sum = x
    let term = x
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n
      const t = term / (2 * n + 1)
      sum += t
      if (Math.abs(t) < 1e-17) break
    }
    return (2 / Math.sqrt(Math.PI)) * sum
  }
  let f = 0
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f)
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f))
}

/** the quantiles Q((i + ½)/N) of dimension d of the mixture (bisection on its CDF) */
const quantiles = (g: Gmm.Gmm, d: number, N: number): Float64Array => {
  const cdf = (x: number) => g.weights.reduce((s, w, k) => s + w * 0.5 * (1 + erf((x - g.means[k]![d]!) / Math.sqrt(2 * g.variances[k]![d]!))), 0)
  return Float64Array.from({ length: N }, (_, i) => {
    const u = (i + 0.5) / N
    let lo = -10
    let hi = 10
    for (let k = 0; k < 60; k++) {
      const m = 0.5 * (lo + hi)
      if (cdf(m) < u) lo = m
      else hi = m
    }
    return 0.5 * (lo + hi)
  })
}

/** W1 between the samples' marginal in each dimension and the mixture's, averaged over dimensions */
const w1 = (qs: ReadonlyArray<Float64Array>, x: Float64Array, D: number): number =>
  qs.reduce((acc, q, d) => {
    const v = Float64Array.from({ length: q.length }, (_, b) => x[b * D + d]!).sort()
    let s = 0
    for (let i = 0; i < q.length; i++) s += Math.abs(v[i]! - q[i]!)
    return acc + s / q.length / D
  }, 0)

// -------------------------------------------------------------------------------------------------
// ODE: the panel against the exact endpoint
// -------------------------------------------------------------------------------------------------

const panel = (lambdaInf: number) =>
  (
    [
      [4, 2],
      [4, 8],
      [8, 16],
    ] as const
  ).flatMap(([K, D]) =>
    [1, 2, 3, 4].map((seed) => {
      const ns = MR.schedule({ lambdaInf, alphaT: 0.005 })
      const gmm = Gmm.random(K, D, seed, 0.1, 0.3)
      const rows = 16
      const mu = Gmm.normals(rows * D, seed + 5).map((v) => 0.5 * v)
      const xT = MR.prior(ns, mu, Gmm.normals(rows * D, seed + 3))
      return { ns, gmm, mu, xT, D, exact: MR.endpoint(ns)(gmm, mu, xT) }
    }),
  )
type Problem = ReturnType<typeof panel>[number]

const eulerErr = (p: Problem, n: number): number => meanL2(MR.eulerMaruyama(p.ns, { steps: n, sde: false, D: p.D })(MR.eps(p.gmm, p.mu), p.mu)(p.xT), p.exact, p.D)
const mrsErr = (p: Problem, s: S.SolverSchedule): number => meanL2(F.run(Prog.compileOrThrow(p.ns, 'eps')(s), MR.eps(p.gmm, p.mu), { mu: p.mu })(p.xT).x, p.exact, p.D)

/** the smallest Euler NFE (search on a 5% ladder up to 20 000) whose error is ≤ e */
const eulerNfeFor = (p: Problem, e: number): number => {
  for (let n = 5; n <= 20000; n = Math.max(n + 1, Math.round(n * 1.05))) if (eulerErr(p, n) <= e) return n
  return Infinity
}

const configs: ReadonlyArray<readonly [string, (nfe: number) => S.SolverSchedule]> = [
  ['mrs-ode-1', (nfe) => MRS.ode({ nfe, order: 1 })],
  ['mrs-ode-2', (nfe) => MRS.ode({ nfe, order: 2 })],
  ['mrs-ode-3', (nfe) => MRS.ode({ nfe, order: 3 })],
  ['mrs-ode-2, no Euler at the end', (nfe) => MRS.ode({ nfe, order: 2, eulerAtFinal: false })],
  ['mrs-ode-3, no Euler at the end', (nfe) => MRS.ode({ nfe, order: 3, eulerAtFinal: false })],
  ['mrs-ode-3, logSNR grid', (nfe) => MRS.ode({ nfe, order: 3, grid: 'logSNR' })],
]

const t0 = performance.now()
const lines: string[] = []
const out = (s: string) => {
  lines.push(s)
  console.log(s)
}
out('### ODE: error vs the exact endpoint (mean L2), Euler ÷ MRS at equal NFE, and the speed-up in NFE')
out('')
for (const li of LAMBDAS) {
  const P = panel(li)
  out(`λ_∞ = ${(li * 255).toFixed(0)}/255 = ${li.toFixed(4)} (λ from ${P[0]!.ns.lambda(1).toFixed(2)} to ${P[0]!.ns.lambda(1e-3).toFixed(2)})`)
  out('')
  out('| solver (time-uniform unless noted) | NFE | mean L2 (geo. mean) | Euler ÷ MRS: geo. mean | min | max | speed-up (Euler NFE ÷ NFE) |')
  out('|---|---:|---:|---:|---:|---:|---:|')
  for (const nfe of NFES) {
    const eu = P.map((p) => eulerErr(p, nfe))
    out(`| IR-SDE Euler (PF-ODE) | ${nfe} | ${e2(gmean(eu))} | 1 | | | 1 |`)
    for (const [name, mk] of configs) {
      const errs = P.map((p) => mrsErr(p, mk(nfe)))
      const r = errs.map((e, k) => eu[k]! / e)
      const speed = name.endsWith('end') ? undefined : gmean(P.map((p, k) => eulerNfeFor(p, errs[k]!) / nfe))
      out(`| ${name} | ${nfe} | ${e2(gmean(errs))} | **${f1(gmean(r))}** | ${f1(Math.min(...r))} | ${f1(Math.max(...r))} | ${speed === undefined ? '' : f1(speed)} |`)
    }
  }
  out('')
}

// -------------------------------------------------------------------------------------------------
// SDE: distance to the data distribution
// -------------------------------------------------------------------------------------------------

out('### SDE: W1 to the data distribution p(x0 | μ) (K4 D2 seed 11, 20 000 samples, per-dimension exact 1-D W1)')
out('')
const N = 20000
const g = Gmm.random(4, 2, 11, 0.1, 0.3)
const D = 2
const qs = [0, 1].map((d) => quantiles(g, d, N))
const exactSamples = (() => {
  const rnd = Gmm.mulberry32(4)
  const z = Gmm.normals(N * D, 9)
  const x = new Float64Array(N * D)
  for (let b = 0; b < N; b++) {
    let r = rnd()
    let k = 0
    while (k < g.K - 1 && r > g.weights[k]!) r -= g.weights[k++]!
    for (let d = 0; d < D; d++) x[b * D + d] = g.means[k]![d]! + Math.sqrt(g.variances[k]![d]!) * z[b * D + d]!
  }
  return x
})()
out(`floor (W1 of ${N} exact samples): ${e2(w1(qs, exactSamples, D))}`)
out('')
out('| λ_∞ | NFE | Euler–Maruyama | mrs-sde-1 | mrs-sde-2 | mrs-ode-3 (ODE) | EM ÷ mrs-sde-2 |')
out('|---|---:|---:|---:|---:|---:|---:|')
for (const li of LAMBDAS) {
  const ns = MR.schedule({ lambdaInf: li, alphaT: 0.005 })
  const mu = MR.rowsOf([0.3, -0.2], N, D)
  const xT = MR.prior(ns, mu, Gmm.normals(N * D, 3))
  const run = (s: S.SolverSchedule) => w1(qs, F.run(Prog.compileOrThrow(ns, 'eps')(s), MR.eps(g, mu), { mu, D, seed: 1 })(xT).x, D)
  for (const nfe of NFES) {
    const em = w1(qs, MR.eulerMaruyama(ns, { steps: nfe, sde: true, D, seed: 1 })(MR.eps(g, mu), mu)(xT), D)
    const s2 = run(MRS.sde({ nfe, order: 2 }))
    out(`| ${(li * 255).toFixed(0)}/255 | ${nfe} | ${e2(em)} | ${e2(run(MRS.sde({ nfe, order: 1 })))} | ${e2(s2)} | ${e2(run(MRS.ode({ nfe, order: 3 })))} | ${f1(em / s2)} |`)
  }
}
out('')
console.error(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`)

/**
 * DPM-Solver-v3 (docs/math.md#dpm-solver-v3): empirical model statistics (EMS) l, s, b ∈ R^D per λ, the
 * reparameterised ODE and its per-dimension step coefficients. With f = (σ·ε̂ − l⊙x)/α and, relative
 * to a start λ_s, g(λ) = e^{−(S(λ)−S_s)}⊙f − β(λ), β(λ) = ∫_{λ_s}^{λ} e^{−(S(r)−S_s)}⊙b dr (L = ∫l, S = ∫s):
 *   x_t = (α_t/α_s)·e^{−(L_t−L_s)}⊙x_s − α_t·e^{−(L_t−L_s)}⊙(Σ_j c_j⊙g_j + ∫_{λ_s}^{λ_t} e^{w}⊙β dλ),
 *   c_j = ∫_{λ_s}^{λ_t} e^{w(λ)}·ℓ_j(λ) dλ, w = (L + S)(λ) − (L + S)(λ_s), ℓ_j the λ-Lagrange basis of the nodes.
 * l, s, b are piecewise linear in λ between the EMS grid points, so L and S are exact and every
 * integral is Gauss–Legendre on each grid panel (no snapping of the sampling times to the EMS grid).
 * Degenerate EMS (l = 1, s = b = 0) gives f = −x0, w = λ − λ_s: the data-prediction (DPM-Solver++) step.
 * Pure numbers: estimation asks a `Probe` (a model with autodiff, e.g. run/TfjsLearned.ts).
 */
import * as t from 'io-ts'
import * as Gmm from './Gmm.ts'
import type * as NS from './NoiseSchedule.ts'
import * as P from './Parameterization.ts'
import * as R from './Rule.ts'
import * as U from './Codec.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the document format tag */
export const FORMAT = 'stepwise-ems/v1'

/** EMS on the uniform λ grid λ_i = λ_T + (λ_0 − λ_T)·i/M, i = 0..M; l, s, b row-major [(M + 1) × D] */
export interface Ems {
  readonly format: typeof FORMAT
  /** the model they belong to */
  readonly model: string
  /** the noise schedule's name (`NoiseSchedule.name`) */
  readonly schedule: string
  readonly lambdaT: number
  readonly lambda0: number
  readonly M: number
  readonly D: number
  readonly l: Float64Array
  readonly s: Float64Array
  readonly b: Float64Array
  /** how they were estimated */
  readonly samples?: number
  readonly seed?: number
}

/** a step's per-dimension coefficients: x_t = onStart⊙x_s + Σ_j (onNodes[j].x⊙xe_j + onNodes[j].out⊙out_j) + bias */
export interface StepCoefficients {
  readonly onStart: Float64Array
  readonly onNodes: ReadonlyArray<{ readonly x: Float64Array; readonly out: Float64Array }>
  readonly bias: Float64Array
}

/** what estimation asks of a model on a batch x [B·D] at one point: ε̂, Jᵀv (v Rademacher) and dε̂/dλ along the PF-ODE */
export type Probe = (x: Float64Array, at: NS.Point, v: Float64Array) => { readonly eps: Float64Array; readonly jtv: Float64Array; readonly deps: Float64Array }

/** estimation settings: M + 1 grid points, `samples` data rows per point in batches of `batch`, ±`smooth` points for l' */
export interface EstimateOptions {
  readonly model: string
  readonly M: number
  readonly samples: number
  readonly batch: number
  readonly seed: number
  readonly smooth?: number
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** λ_i = λ_T + (λ_0 − λ_T)·i/M over the schedule's [T, t0] */
const gridOf = (ns: NS.NoiseSchedule, M: number) => {
  const lambdaT = ns.lambda(ns.T)
  const lambda0 = ns.lambda(ns.t0)
  return { lambdaT, lambda0, at: (i: number) => lambdaT + ((lambda0 - lambdaT) * i) / M }
}

/** degenerate EMS l = 1, s = 0, b = 0 (v3 reduces to DPM-Solver++) on the schedule's range */
export const degenerate = (ns: NS.NoiseSchedule, D: number, M = 32): Ems => {
  const { lambdaT, lambda0 } = gridOf(ns, M)
  const n = (M + 1) * D
  return { format: FORMAT, model: 'degenerate', schedule: ns.name, lambdaT, lambda0, M, D, l: new Float64Array(n).fill(1), s: new Float64Array(n), b: new Float64Array(n) }
}

/**
 * estimate EMS (docs/math.md#dpm-solver-v3) at each grid λ from `data` rows x0 (x = α·x0 ± σ·z, antithetic pairs): l = E[σ·v⊙Jᵀv] (Hutchinson,
 * v Rademacher), l' by central differences smoothed over ±smooth points; f = e^{−λ}ε − l⊙x/α,
 * f' = e^{−λ}((l − 1)⊙ε + dε/dλ) − l'⊙x/α; s = Cov(f, f')/Var(f), b = E f' − s·E f (per dimension)
 */
export const estimate = (ns: NS.NoiseSchedule, probe: Probe, data: Float64Array, D: number, o: EstimateOptions): Ems => {
  const { lambdaT, lambda0, at } = gridOf(ns, o.M)
  const rows = data.length / D
  const moments = Array.from({ length: o.M + 1 }, (_, i) => {
    const lambda = at(i)
    const t = ns.tOfLambda(lambda)
    const pt: NS.Point = { t, alpha: ns.alpha(t), sigma: ns.sigma(t), lambda }
    const rnd = Gmm.mulberry32(o.seed * 7919 + i)
    const normal = Gmm.normalsFrom(rnd)
    const batches = Array.from({ length: Math.ceil(o.samples / o.batch) }, (_, k) => {
      const B = Math.min(o.batch, o.samples - k * o.batch)
      const x = new Float64Array(B * D)
      const v = new Float64Array(B * D)
      // antithetic pairs: rows 2j and 2j + 1 share x0 and take z and −z
      for (let r = 0, row = 0; r < B; r++) {
        if (r % 2 === 0) row = Math.floor(rnd() * rows)
        for (let d = 0; d < D; d++) {
          const k = r * D + d
          x[k] = r % 2 === 0 ? pt.alpha * data[row * D + d]! + pt.sigma * normal() : 2 * pt.alpha * data[row * D + d]! - x[k - D]!
          v[k] = rnd() < 0.5 ? -1 : 1
        }
      }
      return { x, v, r: probe(x, pt, v) }
    })
    return { pt, m: momentsOf(D, batches, pt) }
  })
  const n = (o.M + 1) * D
  const l = new Float64Array(n)
  moments.forEach(({ m }, i) =>
    l.set(
      m.h.map((h) => h / m.n),
      i * D,
    ),
  )
  const dl = smoothed(derivative(l, o.M, D, (lambda0 - lambdaT) / o.M), o.M, D, o.smooth ?? 5)
  const s = new Float64Array(n)
  const b = new Float64Array(n)
  moments.forEach(({ pt, m }, i) => {
    const e = Math.exp(-pt.lambda)
    for (let d = 0; d < D; d++) {
      const k = i * D + d
      const [sk, bk] = fit(m, d, e, l[k]!, dl[k]!)
      s[k] = sk
      b[k] = bk
    }
  })
  return { format: FORMAT, model: o.model, schedule: ns.name, lambdaT, lambda0, M: o.M, D, l, s, b, samples: o.samples, seed: o.seed }
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** per-dimension sums over a point's samples: σ·v⊙Jᵀv, and e = ε̂, q = dε̂/dλ, y = x/α with their products */
interface Moments {
  readonly n: number
  readonly h: Float64Array
  /** e, q, y per dimension */
  readonly sum: Float64Array
  /** ee, eq, ey, qy, yy per dimension */
  readonly prod: Float64Array
}

/** the sums of one point's probes */
const momentsOf = (D: number, batches: ReadonlyArray<{ readonly x: Float64Array; readonly v: Float64Array; readonly r: ReturnType<Probe> }>, pt: NS.Point): Moments => {
  const h = new Float64Array(D)
  const sum = new Float64Array(3 * D)
  const prod = new Float64Array(5 * D)
  let n = 0
  for (const { x, v, r } of batches) {
    for (let k = 0; k < x.length; k++) {
      const d = k % D
      const [e, q, y] = [r.eps[k]!, r.deps[k]!, x[k]! / pt.alpha]
      h[d]! += pt.sigma * v[k]! * r.jtv[k]!
      sum[3 * d]! += e
      sum[3 * d + 1]! += q
      sum[3 * d + 2]! += y
      prod[5 * d]! += e * e
      prod[5 * d + 1]! += e * q
      prod[5 * d + 2]! += e * y
      prod[5 * d + 3]! += q * y
      prod[5 * d + 4]! += y * y
    }
    n += x.length / D
  }
  return { n, h, sum, prod }
}

/** (s, b) of dimension d: least squares f' ≈ s·f + b with f = e·ε − l·y, f' = e(l − 1)·ε + e·q − l'·y (e = e^{−λ}) */
const fit = (m: Moments, d: number, e: number, l: number, dl: number): readonly [number, number] => {
  const N = m.n
  const [me, mq, my] = [m.sum[3 * d]! / N, m.sum[3 * d + 1]! / N, m.sum[3 * d + 2]! / N]
  const cov = (k: number, a: number, b: number) => m.prod[5 * d + k]! / N - a * b
  const [ee, eq, ey, qy, yy] = [cov(0, me, me), cov(1, me, mq), cov(2, me, my), cov(3, mq, my), cov(4, my, my)]
  const [a1, a2] = [e, -l]
  const [c1, c2, c3] = [e * (l - 1), e, -dl]
  const varF = a1 * a1 * ee + 2 * a1 * a2 * ey + a2 * a2 * yy
  const covFF = a1 * (c1 * ee + c2 * eq + c3 * ey) + a2 * (c1 * ey + c2 * qy + c3 * yy)
  // Var f below ~1e-9 of its terms is cancellation noise (f a function of λ alone): no slope to fit
  const s = varF > 1e-9 * (a1 * a1 * ee + a2 * a2 * yy) ? covFF / varF : 0
  return [s, c1 * me + c2 * mq + c3 * my - s * (a1 * me + a2 * my)]
}

/** d/dλ of a [(M + 1) × D] grid function: central differences, one-sided at the ends */
const derivative = (v: Float64Array, M: number, D: number, dl: number): Float64Array =>
  v.map((_, k) => {
    const i = Math.floor(k / D)
    const d = k % D
    const lo = Math.max(0, i - 1)
    const hi = Math.min(M, i + 1)
    return (v[hi * D + d]! - v[lo * D + d]!) / ((hi - lo) * dl)
  })

/** moving average over ±w grid points (window clipped at the ends) */
const smoothed = (v: Float64Array, M: number, D: number, w: number): Float64Array =>
  v.map((_, k) => {
    const i = Math.floor(k / D)
    const d = k % D
    let s = 0
    let c = 0
    for (let j = Math.max(0, i - w); j <= Math.min(M, i + w); j++, c++) s += v[j * D + d]!
    return s / c
  })

/** L = ∫_{λ_T} l at the grid points (trapezoid: exact for the piecewise-linear l) */
const cumulative = (v: Float64Array, M: number, D: number, dl: number): Float64Array => {
  const out = new Float64Array(v.length)
  for (let i = 1; i <= M; i++) for (let d = 0; d < D; d++) out[i * D + d] = out[(i - 1) * D + d]! + (dl * (v[(i - 1) * D + d]! + v[i * D + d]!)) / 2
  return out
}

/** the grid functions of an Ems as functions of λ (per dimension): values and exact integrals from λ_T */
interface Fields {
  readonly l: (d: number, lambda: number) => number
  readonly s: (d: number, lambda: number) => number
  readonly b: (d: number, lambda: number) => number
  readonly L: (d: number, lambda: number) => number
  readonly S: (d: number, lambda: number) => number
  /** the grid points strictly inside (a, b) (either order), ascending from a */
  readonly cuts: (a: number, b: number) => ReadonlyArray<number>
}

const fieldsCache = new WeakMap<Ems, Fields>()

const fieldsOf = (e: Ems): Fields => {
  const cached = fieldsCache.get(e)
  if (cached !== undefined) return cached
  const { M, D } = e
  const dl = (e.lambda0 - e.lambdaT) / M
  const Lc = cumulative(e.l, M, D, dl)
  const Sc = cumulative(e.s, M, D, dl)
  const pos = (lambda: number) => {
    const i = Math.min(M - 1, Math.max(0, Math.floor((lambda - e.lambdaT) / dl)))
    return [i, lambda - (e.lambdaT + i * dl)] as const
  }
  const value = (v: Float64Array) => (d: number, lambda: number) => {
    const [i, delta] = pos(lambda)
    const a = v[i * D + d]!
    return a + ((v[(i + 1) * D + d]! - a) * delta) / dl
  }
  const integral = (v: Float64Array, C: Float64Array) => (d: number, lambda: number) => {
    const [i, delta] = pos(lambda)
    const a = v[i * D + d]!
    return C[i * D + d]! + a * delta + ((v[(i + 1) * D + d]! - a) * delta * delta) / (2 * dl)
  }
  const cuts = (a: number, b: number): ReadonlyArray<number> => {
    const [lo, hi] = a < b ? [a, b] : [b, a]
    const out: number[] = []
    for (let i = Math.floor((lo - e.lambdaT) / dl) + 1; i <= M && e.lambdaT + i * dl < hi; i++) if (e.lambdaT + i * dl > lo) out.push(e.lambdaT + i * dl)
    return a < b ? out : out.reverse()
  }
  const f: Fields = { l: value(e.l), s: value(e.s), b: value(e.b), L: integral(e.l, Lc), S: integral(e.s, Sc), cuts }
  fieldsCache.set(e, f)
  return f
}

/** ∫_a^b f (either order), 8-point Gauss–Legendre on each piece between the EMS grid points */
const panels = (F: Fields, f: (lambda: number) => number, a: number, b: number): number => {
  const pts = [a, ...F.cuts(a, b), b]
  let sum = 0
  for (let k = 0; k + 1 < pts.length; k++) sum += R.integrate(f, pts[k]!, pts[k + 1]!, 1)
  return sum
}

/** ℓ_j(λ) = Π_{k≠j} (u − u_k)/(u_j − u_k), u = (λ − λ_s)/h */
const basis =
  (us: ReadonlyArray<number>, j: number) =>
  (u: number): number => {
    let p = 1
    for (let k = 0; k < us.length; k++) if (k !== j) p *= (u - us[k]!) / (us[j]! - us[k]!)
    return p
  }

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** λ of grid point i */
export const lambdaAt = (e: Ems, i: number): number => e.lambdaT + ((e.lambda0 - e.lambdaT) * i) / e.M

/**
 * the v3 step s → t over `nodes` (any points with distinct λ; the start need not be one of them), per
 * dimension, for a model with native output `param`: f_j = ((σ_j·a_x − l_j)/α_j)⊙xe_j + (σ_j·a_out/α_j)·out_j
 * with ε = a_x·x + a_out·out (Parameterization.toPrediction), then the formula of the module header
 */
export const coefficients =
  (e: Ems, ns: NS.NoiseSchedule, param: P.Parameterization) =>
  (start: NS.Point, target: NS.Point, nodes: ReadonlyArray<NS.Point>): StepCoefficients => {
    if (e.schedule !== ns.name) throw new Error(`the EMS of model '${e.model}' were computed under noise schedule '${e.schedule}', not '${ns.name}'; compile for '${e.schedule}'`)
    const tol = 1e-9 * Math.abs(e.lambda0 - e.lambdaT)
    for (const p of [start, target, ...nodes])
      if (p.lambda < e.lambdaT - tol || p.lambda > e.lambda0 + tol)
        throw new Error(
          `t = ${p.t} (λ = ${p.lambda.toFixed(4)}) is outside the EMS range λ ∈ [${e.lambdaT.toFixed(4)}, ${e.lambda0.toFixed(4)}] of model '${e.model}'; sample within the range the EMS were computed on`,
        )
    const F = fieldsOf(e)
    const D = e.D
    const ls = start.lambda
    const lt = target.lambda
    const h = lt - ls
    const us = nodes.map((p) => (p.lambda - ls) / h)
    const aff = nodes.map((p) => P.toPrediction(param, 'noise')(p))
    const onStart = new Float64Array(D)
    const onNodes = nodes.map(() => ({ x: new Float64Array(D), out: new Float64Array(D) }))
    const bias = new Float64Array(D)
    for (let d = 0; d < D; d++) {
      const Ls = F.L(d, ls)
      const Ss = F.S(d, ls)
      const decay = Math.exp(-(F.L(d, lt) - Ls))
      const K = target.alpha * decay
      onStart[d] = (target.alpha / start.alpha) * decay
      const ew = (lambda: number) => Math.exp(F.L(d, lambda) + F.S(d, lambda) - Ls - Ss)
      const eb = (r: number) => Math.exp(-(F.S(d, r) - Ss)) * F.b(d, r)
      const beta = (lambda: number) => panels(F, eb, ls, lambda)
      // ∫ e^{w}·β over the pieces, β carried from piece to piece
      const pts = [ls, ...F.cuts(ls, lt), lt]
      let bTerm = 0
      for (let k = 0, b0 = 0; k + 1 < pts.length; k++) {
        const [a, z] = [pts[k]!, pts[k + 1]!]
        bTerm += R.integrate((lambda) => ew(lambda) * (b0 + R.integrate(eb, a, lambda, 1)), a, z, 1)
        b0 += R.integrate(eb, a, z, 1)
      }
      let carried = 0
      nodes.forEach((p, j) => {
        const ell = basis(us, j)
        const c = panels(F, (lambda) => ew(lambda) * ell((lambda - ls) / h), ls, lt)
        const scale = -K * c * Math.exp(-(F.S(d, p.lambda) - Ss))
        onNodes[j]!.x[d] = (scale * (p.sigma * aff[j]!.x - F.l(d, p.lambda))) / p.alpha
        onNodes[j]!.out[d] = (scale * p.sigma * aff[j]!.out) / p.alpha
        carried += c * beta(p.lambda)
      })
      bias[d] = K * (carried - bTerm)
    }
    return { onStart, onNodes, bias }
  }

// -------------------------------------------------------------------------------------------------
// codec
// -------------------------------------------------------------------------------------------------

const Row = t.readonlyArray(U.finiteNumber, 'a list of finite numbers')
const Table = t.readonlyArray(Row, 'a list of rows (one per grid point)')
const DocC = U.closed(
  'an EMS document',
  {
    format: t.literal(FORMAT),
    model: U.string,
    schedule: U.string,
    lambdaT: U.finiteNumber,
    lambda0: U.finiteNumber,
    M: U.positiveInt,
    D: U.positiveInt,
    l: Table,
    s: Table,
    b: Table,
  },
  { samples: U.positiveInt, seed: t.number },
)

/** an Ems as a JSON document: l, s, b as (M + 1) rows of D numbers (7 significant digits) */
export const encode = (e: Ems): unknown => {
  const table = (v: Float64Array) => Array.from({ length: e.M + 1 }, (_, i) => Array.from(v.subarray(i * e.D, (i + 1) * e.D), (x) => Number(x.toPrecision(7))))
  return { ...e, l: table(e.l), s: table(e.s), b: table(e.b) }
}

/** a JSON document ↦ Ems; throws with the path of every issue */
export const decode = (u: unknown): Ems => {
  const d = U.decodeOrThrow(DocC, 'EMS document')(u)
  const flat = (key: 'l' | 's' | 'b'): Float64Array => {
    const rows = d[key]
    if (rows.length !== d.M + 1 || rows.some((r) => r.length !== d.D)) throw new Error(`invalid EMS document:\n${key}: expected ${d.M + 1} rows of ${d.D} numbers (M + 1 grid points × D)`)
    return Float64Array.from(rows.flat())
  }
  if (!(d.lambda0 > d.lambdaT)) throw new Error(`invalid EMS document:\nlambda0: ${d.lambda0} must be above lambdaT = ${d.lambdaT}`)
  return { ...d, l: flat('l'), s: flat('s'), b: flat('b') }
}

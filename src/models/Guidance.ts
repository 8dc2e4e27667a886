/**
 * Guidance adapters (docs/math.md#guidance, #thresholding): classifier-free guidance as one batched network call,
 * CFG rescale (Lin et al. 2305.08891) and dynamic thresholding (Imagen), as maps into `Model`s over any
 * value type that has the capabilities they need: batch concatenation and split (CFG), per-sample
 * statistics and per-row coefficients (rescale, thresholding). Instances: `float64(D)` here,
 * `run/TfjsGuidance.ts` for tfjs tensors. Coefficients stay float64 numbers.
 */
import * as L from '../core/Linear.ts'
import * as M from './Model.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import type { Subset } from './Model.ts'
import * as P from '../core/Parameterization.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a conditional network: native output `param` at (x, point, condition c); conditions are values too (one row per sample) */
export interface Conditional<V> {
  readonly param: P.Parameterization
  readonly call: (x: V, at: Point, c: V) => V
}

/** values the adapter creates and no longer needs (tfjs: dispose); absent = garbage collected */
export interface Release<V> {
  readonly release?: (v: V) => void
}

/** batch capabilities: [v₁; v₂; …] along the batch axis and its inverse (equal parts); rows `rows` of a batch of `of` rows */
export interface Batch<V> extends L.Linear<V>, Release<V> {
  readonly concat: (parts: ReadonlyArray<V>) => V
  readonly split: (v: V, parts: number) => ReadonlyArray<V>
  /** needed where the model is called on some rows of the batch (per-sample times: a kept time shift) */
  readonly take?: (v: V, rows: ReadonlyArray<number>, of: number) => V
}

/** per-sample capabilities: statistics over the non-batch dims, per-row clipping and scaling */
export interface PerSample<V> extends L.Linear<V>, Release<V> {
  /** the standard deviation of each row (population: the ratios below do not depend on the choice) */
  readonly std: (v: V) => ReadonlyArray<number>
  /** the p-quantile of |v| of each row (linear interpolation between order statistics, as torch.quantile) */
  readonly quantileAbs: (v: V, p: number) => ReadonlyArray<number>
  /** row b clipped to [−s_b, s_b] */
  readonly clip: (v: V, s: ReadonlyArray<number>) => V
  /** row b times c_b */
  readonly scaleRows: (v: V, c: ReadonlyArray<number>) => V
}

/** classifier-free guidance: weight w, the condition and the "empty" condition, one row each per sample */
export interface Cfg<V> {
  readonly w: number
  readonly cond: V
  readonly uncond: V
  /** w = 1: call the conditional model only (default true); false keeps the batched call (laws) */
  readonly skipAtOne?: boolean
}

/** dynamic thresholding: s_b = clamp(quantile_ratio(|x̂0_b|), min, max), x̂0 ← clip(x̂0, −s, s)/s */
export interface Threshold {
  /** quantile of |x̂0| per sample, default 0.995 */
  readonly ratio?: number
  /** lower clamp of s, default 1 (Imagen, DPM-Solver, diffusers, MRS) */
  readonly min?: number
  /** upper clamp of s, default ∞ (diffusers sample_max_value; MRS 1.5) */
  readonly max?: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** the p-quantile of the values in `sorted` (ascending): v[⌊q⌋] + (q − ⌊q⌋)(v[⌊q⌋+1] − v[⌊q⌋]), q = p·(n − 1) */
export const quantileSorted = (sorted: ArrayLike<number>, p: number): number => {
  const n = sorted.length
  const q = p * (n - 1)
  const lo = Math.floor(q)
  const hi = Math.min(lo + 1, n - 1)
  return sorted[lo]! + (q - lo) * (sorted[hi]! - sorted[lo]!)
}

/**
 * f on the conditions of the rows `subset` of the batch (the model called on some rows: per-sample times of a kept
 * time shift): c, or [∅; c] with `pair`; needs `Batch.take`, else a clear error (never the first rows' conditions)
 */
const onRows = <V, R>(I: Batch<V>, o: Cfg<V>, subset: Subset, pair: boolean, f: (c: V) => R): R => {
  if (I.take === undefined)
    throw new Error(
      `classifier-free guidance: the model is called on ${subset.rows.length} of ${subset.of} rows (per-sample times: a kept time shift) and this instance cannot take rows of the conditions (Batch.take)`,
    )
  const cond = I.take(o.cond, subset.rows, subset.of)
  if (!pair)
    try {
      return f(cond)
    } finally {
      I.release?.(cond)
    }
  const uncond = I.take(o.uncond, subset.rows, subset.of)
  const both = I.concat([uncond, cond])
  I.release?.(uncond)
  I.release?.(cond)
  try {
    return f(both)
  } finally {
    I.release?.(both)
  }
}

// -------------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------------

/** w = 1 (skipAtOne): the conditional model alone, out = out_c */
const conditionalOnly = <V>(I: Batch<V>, o: Cfg<V>, net: Conditional<V>): M.Model<V> =>
  M.make(net.param, (x, at, subset) => (subset === undefined ? net.call(x, at, o.cond) : onRows(I, o, subset, false, (c) => net.call(x, at, c))))

/** one batched call [out_u; out_c] = net([x; x], t, [∅; c]) → g = (1 − w)·out_u + w·out_c and out_c (the caller releases both) */
const guided =
  <V>(I: Batch<V>, o: Cfg<V>, net: Conditional<V>, cc: V) =>
  (x: V, at: Point, subset?: Subset): { readonly g: V; readonly c: V } => {
    const xx = I.concat([x, x])
    const out = subset === undefined ? net.call(xx, at, cc) : onRows(I, o, subset, true, (c) => net.call(xx, at, c))
    I.release?.(xx)
    const [u, c] = I.split(out, 2)
    I.release?.(out)
    const g = I.lincomb([
      [1 - o.w, u!],
      [o.w, c!],
    ])
    I.release?.(u!)
    return { g, c: c! }
  }

/**
 * classifier-free guidance, one batched call: [out_u; out_c] = net([x; x], t, [∅; c]), out = out_u + w·(out_c − out_u)
 * = (1 − w)·out_u + w·out_c in the network's own parameterization (every conversion is affine in out at fixed (x, t),
 * so guiding ε, x0, v or u gives the same step); w = 1 calls the conditional model only. Holds [∅; c] (one value) while it lives
 */
export const cfg =
  <V>(I: Batch<V>) =>
  (o: Cfg<V>) =>
  (net: Conditional<V>): M.Model<V> => {
    if (o.w === 1 && o.skipAtOne !== false) return conditionalOnly(I, o, net)
    const step = guided(I, o, net, I.concat([o.uncond, o.cond]))
    return M.make(net.param, (x, at, subset) => {
      const { g, c } = step(x, at, subset)
      I.release?.(c)
      return g
    })
  }

/**
 * CFG with guidance rescale φ (2305.08891): out_r = out·std(out_c)/std(out) per sample, then φ·out_r + (1 − φ)·out
 * = out·(1 + φ·(std(out_c)/std(out) − 1)) on the network's native output (as diffusers' rescale_noise_cfg); φ = 0 is `cfg`
 */
export const cfgRescaled =
  <V>(I: Batch<V> & PerSample<V>) =>
  (o: Cfg<V> & { readonly rescale: number }) =>
  (net: Conditional<V>): M.Model<V> => {
    if (o.w === 1 && o.skipAtOne !== false) return conditionalOnly(I, o, net)
    const step = guided(I, o, net, I.concat([o.uncond, o.cond]))
    const phi = o.rescale
    return M.make(net.param, (x, at, subset) => {
      const { g, c } = step(x, at, subset)
      const sc = I.std(c)
      I.release?.(c)
      const sg = I.std(g)
      const k = sg.map((s, b) => (s > 0 ? 1 + phi * (sc[b]! / s - 1) : 1))
      const r = I.scaleRows(g, k)
      I.release?.(g)
      return r
    })
  }

/**
 * dynamic thresholding of the data prediction (docs/math.md#thresholding, after CFG: it is nonlinear): x̂0 = a·x + b·out,
 * s_b = clamp(quantile_ratio(|x̂0_b|), min, max), x̂0' = clip(x̂0, −s, s)/s, returned in the model's own
 * parameterization with ε re-derived from x̂0' (ε' = (x − α·x̂0')/σ); at σ = 0 (x̂0 = x) the output is left as is
 */
export const threshold =
  <V>(I: PerSample<V>) =>
  (o: Threshold = {}) =>
  (m: M.Model<V>): M.Model<V> => {
    const ratio = o.ratio ?? 0.995
    const lo = o.min ?? 1
    const hi = o.max ?? Infinity
    return M.make(m.param, (x, at, subset) => {
      const out = m.call(x, at, subset)
      if (at.sigma === 0) return out
      const d = P.toPrediction(m.param, 'data')(at)
      const x0 = I.lincomb([
        [d.x, x],
        [d.out, out],
      ])
      I.release?.(out)
      const s = I.quantileAbs(x0, ratio).map((q) => Math.min(hi, Math.max(lo, q)))
      const clipped = I.clip(x0, s)
      I.release?.(x0)
      const x0c = I.scaleRows(
        clipped,
        s.map((v) => 1 / v),
      )
      I.release?.(clipped)
      if (m.param === 'x0') return x0c
      // native output from (ε', x0'): f.eps·(x − α·x0')/σ + f.x0·x0'
      const f = P.fromPredictions(m.param)(at)
      const r = I.lincomb([
        [f.eps / at.sigma, x],
        [f.x0 - (f.eps * at.alpha) / at.sigma, x0c],
      ])
      I.release?.(x0c)
      return r
    })
  }

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** Float64Array batches, row-major with rows of length D (conditions may have another row length: concat and split do not look at it) */
export const float64 = (D: number): Batch<Float64Array> & PerSample<Float64Array> => {
  const rows = (v: Float64Array): number => {
    if (v.length % D !== 0) throw new Error(`Guidance.float64: ${v.length} values are not rows of D = ${D}`)
    return v.length / D
  }
  return {
    ...L.float64,
    concat: (parts) => {
      const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0))
      let o = 0
      for (const p of parts) {
        out.set(p, o)
        o += p.length
      }
      return out
    },
    split: (v, parts) => {
      if (v.length % parts !== 0) throw new Error(`Guidance.float64: ${v.length} values do not split into ${parts} equal parts`)
      const n = v.length / parts
      return Array.from({ length: parts }, (_, k) => v.slice(k * n, (k + 1) * n))
    },
    take: (v, rows, of) => {
      if (v.length % of !== 0) throw new Error(`Guidance.float64: ${v.length} values are not ${of} rows`)
      const n = v.length / of
      const out = new Float64Array(rows.length * n)
      rows.forEach((r, k) => out.set(v.subarray(r * n, r * n + n), k * n))
      return out
    },
    std: (v) =>
      Array.from({ length: rows(v) }, (_, b) => {
        const r = v.subarray(b * D, (b + 1) * D)
        const m = r.reduce((a, x) => a + x, 0) / D
        return Math.sqrt(r.reduce((a, x) => a + (x - m) ** 2, 0) / D)
      }),
    quantileAbs: (v, p) =>
      Array.from({ length: rows(v) }, (_, b) =>
        quantileSorted(
          v
            .subarray(b * D, (b + 1) * D)
            .map(Math.abs)
            .sort(),
          p,
        ),
      ),
    clip: (v, s) => v.map((x, k) => Math.min(s[Math.floor(k / D)]!, Math.max(-s[Math.floor(k / D)]!, x))),
    scaleRows: (v, c) => v.map((x, k) => c[Math.floor(k / D)]! * x),
  }
}

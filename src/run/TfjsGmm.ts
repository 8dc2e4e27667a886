/**
 * The exact Gaussian-mixture ε (Gmm.ts `eps`) on [B, D] float32 tensors: the mixture's constants
 * are uploaded once; per call only α_t, σ_t (float64 numbers from the Point) enter as scalars.
 */
import * as tf from '@tensorflow/tfjs'
import type * as Gmm from '../core/Gmm.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import type * as Prog from './Program.ts'
import type * as Tfjs from './Tfjs.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a tfjs model that owns tensors: `dispose()` frees them (the model must not be called afterwards) */
export interface Owned extends Tfjs.Model {
  readonly dispose: () => void
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * exact noise prediction, x [B, D]: with v_k = α²s_k² + σ², d_bk = x_b − αμ_k (broadcast [B,1,D] − [1,K,D]),
 * r_bk = softmax_k(log w_k − ½Σ_d[d²/v + log 2πv]) (max-subtracted), ε_b = σ·Σ_k r_bk·d_bk/v_k.
 * Holds 3 tensors (μ, s², log w) until `dispose()`; each call leaves only its result.
 */
export const eps = (g: Gmm.Gmm): Owned => {
  const { K, D } = g
  const means = tf.tensor3d(Float32Array.from(g.means.flat()), [1, K, D])
  const variances = tf.tensor3d(Float32Array.from(g.variances.flat()), [1, K, D])
  const logW = tf.tensor2d(Float32Array.from(g.weights, Math.log), [1, K])
  const model = (x: tf.Tensor2D, at: Point): tf.Tensor2D =>
    tf.tidy(() => {
      const a = at.alpha
      const v = tf.add(tf.mul(variances, a * a), at.sigma * at.sigma) // [1,K,D]
      const logNorm = tf.sub(logW, tf.mul(tf.sum(tf.log(tf.mul(v, 2 * Math.PI)), 2), 0.5)) // [1,K]
      const diff = tf.sub(tf.expandDims(x, 1), tf.mul(means, a)) // [B,K,D]
      const w = tf.div(diff, v) // d/v
      const logit = tf.sub(logNorm, tf.mul(tf.sum(tf.mul(diff, w), 2), 0.5)) // [B,K]
      const ex = tf.exp(tf.sub(logit, tf.max(logit, 1, true)))
      const r = tf.div(ex, tf.sum(ex, 1, true)) // [B,K]
      return tf.mul(tf.sum(tf.mul(tf.expandDims(r, 2), w), 1), at.sigma)
    })
  return Object.assign(model, { dispose: () => tf.dispose([means, variances, logW]) })
}

/**
 * exact noise prediction under a mean-reverting schedule (MeanReverting.eps): ε̂(x, t) = eps(x − (1 − α_t)·μ, t),
 * μ [B, D] (the caller keeps it; called on some rows, `subset`, the same rows of μ); holds the mixture's 3 tensors until `dispose()`
 */
export const meanReverting = (g: Gmm.Gmm, mu: tf.Tensor2D): Owned => {
  const base = eps(g)
  const model = (x: tf.Tensor2D, at: Point, subset?: Prog.Subset): tf.Tensor2D =>
    tf.tidy(() => {
      if (subset === undefined && x.shape[0] !== mu.shape[0])
        throw new Error(`TfjsGmm.meanReverting: μ has ${mu.shape[0]} rows, x has ${x.shape[0]} (one condition row per sample; a model called on some rows must be told which: Subset)`)
      const m = subset === undefined ? mu : tf.gather(mu, Array.from(subset.rows))
      return base(tf.sub(x, tf.mul(m, 1 - at.alpha)), at)
    })
  return Object.assign(model, { dispose: base.dispose })
}

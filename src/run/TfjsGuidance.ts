/**
 * The tfjs instance of the guidance capabilities (Guidance.ts): [B, ·] tensors, concat/split/take on axis 0,
 * Σ cᵢ·vᵢ by the Tfjs interpreter's lincomb, per-row std by tf.moments, per-row quantiles of |v| from
 * tf.topk (only the B·k largest values are read back), per-row clip/scale with [B, 1] coefficient
 * tensors. Every method returns a new tensor and leaves nothing else allocated; `release` disposes.
 */
import * as tf from '@tensorflow/tfjs'
import type * as Guidance from '../models/Guidance.ts'
import type * as M from '../models/Model.ts'
import * as Tfjs from './Tfjs.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** a [B, 1] float32 tensor of per-row numbers */
const column = (c: ReadonlyArray<number>): tf.Tensor2D => tf.tensor2d(Float32Array.from(c), [c.length, 1])

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** batch and per-sample capabilities of [B, D] float32 tensors */
export const instance: Guidance.Batch<tf.Tensor2D> & Guidance.PerSample<tf.Tensor2D> = {
  lincomb: (terms) => Tfjs.lincomb()(terms),
  release: (v) => v.dispose(),
  concat: (parts) => tf.concat2d([...parts], 0),
  split: (v, parts) => tf.split<tf.Tensor2D>(v, parts, 0),
  take: (v, rows) => tf.gather(v, Array.from(rows)),
  std: (v) => {
    const s = tf.tidy(() => tf.sqrt(tf.moments(v, 1).variance))
    const out = Array.from(s.dataSync())
    s.dispose()
    return out
  },
  quantileAbs: (v, p) => {
    const [B, D] = v.shape
    const q = p * (D - 1)
    const k = Math.min(D, D - Math.floor(q)) // the order statistics ⌊q⌋ and ⌊q⌋ + 1 (ascending) are among the k largest
    const top = tf.tidy(() => tf.topk(tf.abs(v), k, true).values)
    const vals = top.dataSync()
    top.dispose()
    return Array.from({ length: B }, (_, b) => {
      const asc = Float64Array.from({ length: k }, (_, j) => vals[b * k + (k - 1 - j)]!) // ascending: index i ↦ D − k + i
      const lo = Math.floor(q)
      const hi = Math.min(lo + 1, D - 1)
      const at = (i: number) => asc[i - (D - k)]!
      return at(lo) + (q - lo) * (at(hi) - at(lo))
    })
  },
  clip: (v, s) =>
    tf.tidy(() => {
      const c = column(s)
      return tf.minimum(tf.maximum(v, tf.neg(c)), c)
    }),
  scaleRows: (v, c) => tf.tidy(() => tf.mul(v, column(c))),
}

/** a model whose every call runs inside tf.tidy (only its output survives) */
export const tidy = (m: M.Model<tf.Tensor2D>): M.Model<tf.Tensor2D> => ({ param: m.param, call: (x, at, subset) => tf.tidy(() => m.call(x, at, subset)) })

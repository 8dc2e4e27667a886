/**
 * A small learned denoiser for the effects exact scores hide (model error, EMS statistics): an MLP
 *   ε̂(x, λ) = W_L·silu(…silu(W_1·[x, φ(x), emb(λ)] + b_1)…) + b_L,  φ(x) = [sin(2ʲx), cos(2ʲx)]_{j<Fx},
 *   emb(λ) = [u, sin(πku/2), cos(πku/2)]_{k=1..F}, u = λ/5,
 * trained on a toy dataset regenerated from its seed, under the VP-linear schedule. This module is the
 * model as data (datasets, the weights document `stepwise-mlp/v1` with float32 weights in base64, the
 * shipped files in `models/`) and the same network in plain float64 for the Float64 interpreter; the
 * tfjs network, its training and its autodiff live in `run/TfjsLearned.ts`.
 */
import { readFileSync } from 'node:fs'
import * as t from 'io-ts'
import * as DpmV3 from '../core/DpmV3.ts'
import * as Gmm from '../core/Gmm.ts'
import * as NS from '../core/NoiseSchedule.ts'
import * as U from '../core/Codec.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the document format tag */
export const FORMAT = 'stepwise-mlp/v1'

/** the time input u = λ/LAMBDA_SCALE (VP-linear: λ ∈ [−5.03, 4.56] on [t0, T] = [1e-3, 1]) */
export const LAMBDA_SCALE = 5

/**
 * a toy dataset, regenerated from its seed: `spiral` n points r·(cos, sin)(θ + 2πa/arms), θ = 3π·sqrt(0.02 + 0.98u),
 * r = 2θ/(3π), arm a uniform, plus N(0, noise²) per coordinate; `gmm` n draws of `mixtureOf` (Gmm.random(K, D, seed, 0.08, 0.35))
 */
export type Dataset =
  | { readonly kind: 'spiral'; readonly n: number; readonly seed: number; readonly arms: number; readonly noise: number }
  | { readonly kind: 'gmm'; readonly n: number; readonly seed: number; readonly K: number; readonly D: number }

/** a dense layer y = x·W + b, W row-major [inputs × outputs] */
export interface Layer {
  readonly inputs: number
  readonly outputs: number
  readonly W: Float32Array
  readonly b: Float32Array
}

/** how the weights were trained (reproducible from `seed`) */
export interface Training {
  readonly seed: number
  readonly steps: number
  readonly batch: number
  /** peak Adam learning rate (cosine decay to lr/100) */
  readonly lr: number
  /** mean ε-loss over the last 100 steps */
  readonly loss?: number
  readonly seconds?: number
}

/** a learned denoiser: architecture, data, training record and weights */
export interface Learned {
  readonly format: typeof FORMAT
  readonly name: string
  /** the noise schedule it was trained under (`NoiseSchedule.vpLinear()`) */
  readonly schedule: 'vp-linear'
  readonly D: number
  readonly hidden: ReadonlyArray<number>
  /** F: number of sin/cos pairs of the time embedding */
  readonly frequencies: number
  /** Fx: number of sin/cos pairs of the input features φ(x) (frequencies 2ʲ, j < Fx) */
  readonly features: number
  readonly dataset: Dataset
  readonly training: Training
  readonly layers: ReadonlyArray<Layer>
}

/** the architecture part of a Learned (what `init` needs) */
export type Arch = Pick<Learned, 'name' | 'D' | 'hidden' | 'frequencies' | 'features' | 'dataset'>

/** how a shipped model is made: its architecture and training settings */
export interface Recipe {
  readonly arch: Arch
  readonly training: Omit<Training, 'loss' | 'seconds'>
}

/** the shipped models' recipes (scripts/train.ts), by name: a 2-D two-arm spiral and an 8-D six-component mixture */
export const recipes: Readonly<Record<'spiral2d' | 'gmm8d', Recipe>> = {
  spiral2d: {
    arch: { name: 'spiral2d', D: 2, hidden: [96, 96, 96], frequencies: 8, features: 5, dataset: { kind: 'spiral', n: 8192, seed: 1, arms: 2, noise: 0.05 } },
    training: { seed: 7, steps: 8000, batch: 256, lr: 3e-3 },
  },
  gmm8d: {
    arch: { name: 'gmm8d', D: 8, hidden: [96, 96, 96], frequencies: 8, features: 2, dataset: { kind: 'gmm', n: 16384, seed: 3, K: 6, D: 8 } },
    training: { seed: 11, steps: 5000, batch: 256, lr: 3e-3 },
  },
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the noise schedule a learned model was trained under */
export const scheduleOf = (_l: Pick<Learned, 'schedule'>): NS.NoiseSchedule => NS.vpLinear()

/** the mixture behind a `gmm` dataset (its exact ε is `Gmm.eps`) */
export const mixtureOf = (d: Extract<Dataset, { kind: 'gmm' }>): Gmm.Gmm => Gmm.random(d.K, d.D, d.seed, 0.08, 0.35)

/** row length of a dataset */
export const dimOf = (d: Dataset): number => (d.kind === 'spiral' ? 2 : d.D)

/** the dataset's n rows (row-major), from its seed: same spec, same numbers */
export const sample = (d: Dataset): Float64Array => {
  const rnd = Gmm.mulberry32(d.seed)
  const normal = Gmm.normalsFrom(rnd)
  const D = dimOf(d)
  const out = new Float64Array(d.n * D)
  if (d.kind === 'spiral') {
    for (let i = 0; i < d.n; i++) {
      const theta = 3 * Math.PI * Math.sqrt(0.02 + 0.98 * rnd())
      const arm = (2 * Math.PI * Math.floor(rnd() * d.arms)) / d.arms
      const r = (2 * theta) / (3 * Math.PI)
      out[2 * i] = r * Math.cos(theta + arm) + d.noise * normal()
      out[2 * i + 1] = r * Math.sin(theta + arm) + d.noise * normal()
    }
    return out
  }
  const g = mixtureOf(d)
  const cum = g.weights.map((_, k) => g.weights.slice(0, k + 1).reduce((a, b) => a + b, 0))
  for (let i = 0; i < d.n; i++) {
    const u = rnd()
    const k = Math.max(
      0,
      cum.findIndex((c) => u < c),
    )
    for (let j = 0; j < D; j++) out[i * D + j] = g.means[k]![j]! + Math.sqrt(g.variances[k]![j]!) * normal()
  }
  return out
}

/** Glorot-uniform weights W ~ U(±sqrt(6/(in + out))), zero biases, from `seed` */
export const init = (a: Arch, seed: number): ReadonlyArray<Layer> => {
  const rnd = Gmm.mulberry32(seed)
  const sizes = [inputSize(a), ...a.hidden, a.D]
  return sizes.slice(1).map((outputs, k) => {
    const inputs = sizes[k]!
    const r = Math.sqrt(6 / (inputs + outputs))
    return { inputs, outputs, W: Float32Array.from({ length: inputs * outputs }, () => r * (2 * rnd() - 1)), b: new Float32Array(outputs) }
  })
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** width of the first layer's input [x, φ(x), emb(λ)]: D·(1 + 2Fx) + 1 + 2F */
export const inputSize = (a: Pick<Learned, 'D' | 'frequencies' | 'features'>): number => a.D * (1 + 2 * a.features) + 1 + 2 * a.frequencies

/** [x, sin(2ʲx)_{j<Fx}, cos(2ʲx)_{j<Fx}] of the row of D values at x[from] into `out` from `at` */
export const featurize = (x: ArrayLike<number>, from: number, D: number, Fx: number, out: Float64Array, at: number): void => {
  for (let d = 0; d < D; d++) out[at + d] = x[from + d]!
  for (let j = 0; j < Fx; j++)
    for (let d = 0; d < D; d++) {
      const w = 2 ** j * x[from + d]!
      out[at + D + j * D + d] = Math.sin(w)
      out[at + D + (Fx + j) * D + d] = Math.cos(w)
    }
}

/** emb(λ) = [u, sin(πku/2)_{k=1..F}, cos(πku/2)_{k=1..F}], u = λ/5, written into `out` from `at` */
export const embed = (lambda: number, F: number, out: Float64Array, at: number): void => {
  const u = lambda / LAMBDA_SCALE
  out[at] = u
  for (let k = 1; k <= F; k++) {
    out[at + k] = Math.sin((Math.PI * k * u) / 2)
    out[at + F + k] = Math.cos((Math.PI * k * u) / 2)
  }
}

/** silu(a) = a·sigmoid(a) */
const silu = (a: number): number => a / (1 + Math.exp(-a))

const b64encode = (bytes: Uint8Array): string => {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}
const b64decode = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))

/** float32 little-endian ↔ base64 */
const f32ToB64 = (v: Float32Array): string => {
  const dv = new DataView(new ArrayBuffer(4 * v.length))
  v.forEach((x, i) => dv.setFloat32(4 * i, x, true))
  return b64encode(new Uint8Array(dv.buffer))
}
const b64ToF32 = (s: string): Float32Array => {
  const bytes = b64decode(s)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => dv.getFloat32(4 * i, true))
}

// -------------------------------------------------------------------------------------------------
// codec
// -------------------------------------------------------------------------------------------------

const nonNegInt = U.guard<number>('a non-negative integer', (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 0)
const nonNeg = U.guard<number>('a non-negative number', (u): u is number => typeof u === 'number' && Number.isFinite(u) && u >= 0)
const Base64 = U.guard<string>('a base64 string', (u): u is string => typeof u === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(u))
const SpiralC = U.closed('a spiral dataset', { kind: t.literal('spiral'), n: U.positiveInt, seed: t.number, arms: U.positiveInt, noise: nonNeg }, {})
const GmmC = U.closed('a mixture dataset', { kind: t.literal('gmm'), n: U.positiveInt, seed: t.number, K: U.positiveInt, D: U.positiveInt }, {})
const DatasetC = t.union([SpiralC, GmmC])
const TrainingC = U.closed('a training record', { seed: t.number, steps: U.positiveInt, batch: U.positiveInt, lr: U.positiveNumber }, { loss: nonNeg, seconds: nonNeg })
const LayerC = U.closed('a layer', { inputs: U.positiveInt, outputs: U.positiveInt, W: Base64, b: Base64 }, {})
const DocC = U.closed(
  'a learned-model document',
  {
    format: t.literal(FORMAT),
    name: U.string,
    schedule: t.literal('vp-linear'),
    D: U.positiveInt,
    hidden: t.readonlyArray(U.positiveInt),
    frequencies: U.positiveInt,
    features: nonNegInt,
    dataset: DatasetC,
    training: TrainingC,
    layers: t.readonlyArray(LayerC),
  },
  {},
)

/** a Learned as a JSON document (weights as base64 float32 little-endian) */
export const encode = (l: Learned): unknown => ({ ...l, layers: l.layers.map((y) => ({ inputs: y.inputs, outputs: y.outputs, W: f32ToB64(y.W), b: f32ToB64(y.b) })) })

/** a JSON document ↦ Learned; throws with the path of every issue, or a shape mismatch */
export const decode = (u: unknown): Learned => {
  const d = U.decodeOrThrow(DocC, 'learned-model document')(u)
  const layers = d.layers.map((y) => ({ inputs: y.inputs, outputs: y.outputs, W: b64ToF32(y.W), b: b64ToF32(y.b) }))
  const sizes = [inputSize(d), ...d.hidden, d.D]
  layers.forEach((y, k) => {
    if (y.inputs !== sizes[k] || y.outputs !== sizes[k + 1] || y.W.length !== y.inputs * y.outputs || y.b.length !== y.outputs)
      throw new Error(`invalid learned-model document:\nlayers[${k}]: expected ${sizes[k]}×${sizes[k + 1]} weights and ${sizes[k + 1]} biases`)
  })
  if (layers.length !== sizes.length - 1) throw new Error(`invalid learned-model document:\nlayers: ${layers.length} given, the architecture has ${sizes.length - 1}`)
  return { ...d, layers }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** ε̂(x, λ_at) on a row-major float64 batch: the network in float64 (float32 weights promoted), layer by layer over the batch */
export const eps = (l: Learned): ((x: Float64Array, at: NS.Point) => Float64Array) => {
  const Ws = l.layers.map((y) => Float64Array.from(y.W))
  const bs = l.layers.map((y) => Float64Array.from(y.b))
  const D = l.D
  const n0 = inputSize(l)
  const xw = D * (1 + 2 * l.features)
  return (x, at) => {
    const B = x.length / D
    const emb = new Float64Array(1 + 2 * l.frequencies)
    embed(at.lambda, l.frequencies, emb, 0)
    let h = new Float64Array(B * n0)
    for (let r = 0; r < B; r++) {
      featurize(x, r * D, D, l.features, h, r * n0)
      h.set(emb, r * n0 + xw)
    }
    for (let k = 0; k < l.layers.length; k++) {
      const { inputs: ni, outputs: no } = l.layers[k]!
      const W = Ws[k]!
      const b = bs[k]!
      const last = k === l.layers.length - 1
      const g = new Float64Array(B * no)
      for (let r = 0; r < B; r++) {
        const o = r * no
        const hi0 = r * ni
        for (let j = 0; j < no; j++) g[o + j] = b[j]!
        for (let i = 0; i < ni; i++) {
          const hi = h[hi0 + i]!
          if (hi === 0) continue
          const row = i * no
          for (let j = 0; j < no; j++) g[o + j]! += hi * W[row + j]!
        }
        if (!last) for (let j = o; j < o + no; j++) g[j] = silu(g[j]!)
      }
      h = g
    }
    return h
  }
}

/** number of weights and biases */
export const parameters = (l: Pick<Learned, 'layers'>): number => l.layers.reduce((a, y) => a + y.W.length + y.b.length, 0)

/** the shipped model names (files `models/<name>.json` and `models/<name>.ems.json`) */
export const shipped: ReadonlyArray<keyof typeof recipes> = ['spiral2d', 'gmm8d']

/** the path of a shipped file, relative to this module */
const modelUrl = (file: string): URL => new URL(`../../models/${file}`, import.meta.url)

/** read `models/<name>.json` (Node) */
export const load = (name: string): Learned => decode(JSON.parse(readFileSync(modelUrl(`${name}.json`), 'utf8')))

/** read `models/<name>.ems.json` (Node); throws naming the script that writes it when it is missing */
export const loadEms = (name: string): DpmV3.Ems => {
  const text = (() => {
    try {
      return readFileSync(modelUrl(`${name}.ems.json`), 'utf8')
    } catch {
      throw new Error(`model '${name}' has no EMS file models/${name}.ems.json; compute it with: node --import tsx scripts/ems.ts --only ${name}`)
    }
  })()
  return DpmV3.decode(JSON.parse(text))
}

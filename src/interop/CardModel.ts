/**
 * A model card's network as a stepwise model on the Tfjs interpreter: x [B, D] is reshaped to the card's per-sample
 * shape (NHWC, or NCHW for networks that take it), time τ(point) and the class labels are fed by input name, the
 * output is flattened back to [B, D]. Class-conditional networks become `Guidance.Conditional` models (the condition
 * is a [B, 1] column of labels), so classifier-free guidance is `Guidance.cfg` with the card's null label. ONNX
 * networks run through onnxruntime (an optional dependency, src/models/Onnx.ts); tfjs networks through tfjs.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import type { Point } from '../core/NoiseSchedule.ts'
import * as Noise from '../core/Noise.ts'
import * as G from '../models/Guidance.ts'
import type * as M from '../models/Model.ts'
import type * as Prog from '../run/Program.ts'
import * as Tfjs from '../run/Tfjs.ts'
import * as TfjsGuidance from '../run/TfjsGuidance.ts'
import * as TM from '../run/TfjsModel.ts'
import * as Card from './Card.ts'
import * as Diffusers from './Diffusers.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a network called with named float32 / int32 tensors; returns one tensor (the caller disposes inputs and output) */
export type Named = (inputs: Readonly<Record<string, tf.Tensor>>) => tf.Tensor

/** the input names a network declares, in order, with their static ranks */
export interface Signature {
  readonly inputs: ReadonlyArray<{ readonly name: string; readonly rank: number | undefined; readonly dtype: 'float32' | 'int32' }>
}

/** a loaded card: its network as a conditional model, the guided / unconditional model constructors, and dispose */
export interface Loaded {
  readonly card: Card.Card
  /** the width of a flattened sample */
  readonly D: number
  /** out = net(x, τ(at), label) with the labels a [B, 1] column (ignored by an unconditional network) */
  readonly conditional: G.Conditional<tf.Tensor2D>
  /**
   * the sampling model: unconditional (no labels), conditional (labels, w = 1) or classifier-free guided
   * out = out_∅ + w·(out_c − out_∅) with the card's null label
   */
  readonly model: (o?: { readonly labels?: ReadonlyArray<number>; readonly w?: number }) => { readonly model: M.Model<tf.Tensor2D>; readonly dispose: () => void }
  readonly dispose: () => void
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** τ(point) for the card's time convention ('diffusers': diffusers' rounded timestep of the card's scheduler config) */
export const timeOf = (c: Card.Card): ((at: Point) => number) => {
  const ti = c.time
  if (ti === 'diffusers') {
    if (!('diffusers' in c.schedule)) throw new Error('time: "diffusers" needs "schedule": {"diffusers": "scheduler_config.json"} (the timesteps come from it)')
    const text = fs.readFileSync(path.resolve(c.dir, c.schedule.diffusers), 'utf8')
    const cv = Diffusers.fromText(text, { nfe: 10 })
    if (E.isLeft(cv)) throw new Error(`schedule.diffusers: ${cv.left.map((i) => `${i.path}: ${i.message}`).join('; ')}`)
    return Diffusers.timestepOf(cv.right)
  }
  return TM.timeOf(ti)
}

/** the named call of a tfjs LayersModel / GraphModel (inputs fed in the network's own input order) */
export const tfjsNamed = (net: TM.Network): { readonly call: Named; readonly signature: Signature; readonly dispose: () => void } => {
  const inputs = net.inputs.map((i, k) => ({
    name: ('inputNames' in net && net.inputNames[k] !== undefined ? net.inputNames[k] : i.name).replace(/:0$/, ''),
    rank: i.shape?.length,
    dtype: (i.dtype === 'int32' ? 'int32' : 'float32') as 'float32' | 'int32',
  }))
  const call: Named = (named) => {
    const list = inputs.map((i) => {
      const v = named[i.name]
      if (v === undefined) throw new Error(`the network's input "${i.name}" was not fed (fed: ${Object.keys(named).join(', ')}); set the card's network.inputs`)
      return v
    })
    const out = net.predict(list.length === 1 ? list[0]! : list) as tf.Tensor | tf.Tensor[]
    if (Array.isArray(out)) {
      if (out.length !== 1) throw new Error(`the network has ${out.length} outputs; name the prediction in the card's network.output`)
      return out[0]!
    }
    return out
  }
  return { call, signature: { inputs }, dispose: () => net.dispose() }
}

/** which input name carries x, t and the label: the card's `network.inputs`, else the network's inputs in that order */
const wiring = (c: Card.Card, sig: Signature): { readonly x: string; readonly t?: string; readonly label?: string } => {
  if (c.network.inputs !== undefined) {
    const known = new Set(sig.inputs.map((i) => i.name))
    for (const [k, v] of Object.entries(c.network.inputs)) if (!known.has(v)) throw new Error(`network.inputs.${k}: the network has no input "${v}"; its inputs are ${[...known].join(', ')}`)
    return c.network.inputs
  }
  const names = sig.inputs.map((i) => i.name)
  const want = c.conditioning === undefined ? 2 : 3
  if (names.length !== want)
    throw new Error(`the network has ${names.length} inputs (${names.join(', ')}); expected ${want} (x, t${want === 3 ? ', label' : ''}): name them in the card's network.inputs`)
  return { x: names[0]!, t: names[1]!, ...(want === 3 ? { label: names[2]! } : {}) }
}

/** the conditional model of a named network: reshape, feed, flatten; every call inside tf.tidy */
export const conditionalOf = (c: Card.Card, net: { readonly call: Named; readonly signature: Signature }): G.Conditional<tf.Tensor2D> => {
  const D = Card.width(c)
  const w = wiring(c, net.signature)
  const tau = timeOf(c)
  const rankOf = (name: string | undefined) => net.signature.inputs.find((i) => i.name === name)?.rank
  const dtypeOf = (name: string | undefined) => net.signature.inputs.find((i) => i.name === name)?.dtype ?? 'float32'
  const nchw = c.network.layout === 'NCHW'
  const call = (x: tf.Tensor2D, at: Point, labels: tf.Tensor2D): tf.Tensor2D =>
    tf.tidy(() => {
      const B = x.shape[0]
      if (x.shape[1] !== D) throw new Error(`the model takes samples of ${D} values (shape ${JSON.stringify(c.shape)}); got rows of ${x.shape[1]}`)
      // a network that takes flat rows gets [B, D]; one that takes images gets [B, ...shape] (NCHW if it says so)
      const flat = rankOf(w.x) === 2
      const img = flat ? x : x.reshape([B, ...c.shape])
      const xin = !flat && nchw && c.shape.length === 3 ? img.transpose([0, 3, 1, 2]) : img
      const named: Record<string, tf.Tensor> = { [w.x]: xin }
      if (w.t !== undefined) {
        const v = tau(at)
        const te = c.network.timeEmbedding
        named[w.t] =
          te !== undefined
            ? tf.tile(tf.tensor2d(sinusoidal(v, te.dim, te.maxPeriod ?? 10000), [1, te.dim]), [B, 1])
            : rankOf(w.t) === 2
              ? tf.fill([B, 1], v, dtypeOf(w.t))
              : tf.fill([B], v, dtypeOf(w.t))
      }
      if (w.label !== undefined) {
        const l = labels.reshape([B])
        named[w.label] =
          c.conditioning?.encoding === 'one-hot'
            ? tf.oneHot(l.round().toInt() as tf.Tensor1D, c.conditioning.classes + 1).toFloat()
            : dtypeOf(w.label) === 'int32'
              ? l.round().toInt()
              : rankOf(w.label) === 2
                ? labels
                : l
      }
      const out = net.call(named)
      if (out.size !== B * D) throw new Error(`the network returned shape [${out.shape.join(', ')}] for ${B} samples; expected ${B * D} values`)
      const back = !flat && nchw && c.shape.length === 3 && out.rank === 4 ? out.reshape([B, c.shape[2]!, c.shape[0]!, c.shape[1]!]).transpose([0, 2, 3, 1]) : out
      return (back.dtype === 'float32' ? back : back.toFloat()).reshape([B, D]) as tf.Tensor2D
    })
  return { param: c.parameterization, call }
}

/** [sin(τ·f_k), cos(τ·f_k)], f_k = P^(−k/(d/2)), k < d/2 */
export const sinusoidal = (tau: number, d: number, period: number): Float32Array => {
  const half = d / 2
  const out = new Float32Array(d)
  for (let k = 0; k < half; k++) {
    const a = tau * Math.exp((-Math.log(period) * k) / half)
    out[k] = Math.sin(a)
    out[half + k] = Math.cos(a)
  }
  return out
}

/** a [B, 1] label column */
const column = (labels: ReadonlyArray<number>): tf.Tensor2D => tf.tensor2d(Float32Array.from(labels), [labels.length, 1])

/** load a card's network (tfjs-layers / tfjs-graph through tfjs, onnx through onnxruntime) */
export const load = async (c: Card.Card): Promise<Loaded> => {
  const net = c.network.format === 'onnx' ? await (await import('../models/Onnx.ts')).load(Card.networkFile(c), c.network.output) : tfjsNamed(await TM.load(Card.networkFile(c)))
  const conditional = conditionalOf(c, net)
  const nul = Card.nullLabel(c)
  const model: Loaded['model'] = (o = {}) => {
    const labels = o.labels
    if (labels === undefined || c.conditioning === undefined) {
      if (labels !== undefined) throw new Error('labels given for an unconditional model (the card has no "conditioning")')
      if (c.conditioning !== undefined && nul === undefined) throw new Error('a conditional model needs labels or a null label')
      return {
        model: TfjsGuidance.tidy({ param: c.parameterization, call: (x, at) => tf.tidy(() => conditional.call(x, at, column(Array.from({ length: x.shape[0] }, () => nul ?? 0)))) }),
        dispose: () => {},
      }
    }
    const bad = labels.findIndex((l) => !Number.isInteger(l) || l < 0 || l >= c.conditioning!.classes)
    if (bad >= 0) throw new Error(`label ${labels[bad]} (row ${bad}) is not a class of this model (0 … ${c.conditioning.classes - 1})`)
    const cond = column(labels)
    const uncond = column(labels.map(() => nul!))
    const m = G.cfg(TfjsGuidance.instance)({ w: o.w ?? 1, cond, uncond })(conditional)
    return {
      model: TfjsGuidance.tidy(m),
      dispose: () => {
        cond.dispose()
        uncond.dispose()
      },
    }
  }
  return { card: c, D: Card.width(c), conditional, model, dispose: net.dispose }
}

// -------------------------------------------------------------------------------------------------
// sampling
// -------------------------------------------------------------------------------------------------

/** batched sampling options: x_T rows (row i = sample index rowOffset + i), labels per row, guidance, batch size, progress */
export interface SampleOptions {
  readonly labels?: ReadonlyArray<number>
  readonly w?: number
  /** rows per model call (default 256) */
  readonly batch?: number
  /** noise seed of stochastic steps (default 0) */
  readonly seed?: number
  /** the sample index of the first row (default 0): noise and x_T are keyed by it */
  readonly rowOffset?: number
  /** called after each batch with the rows done so far */
  readonly progress?: (done: number, total: number) => void
}

/** x_T for samples rowOffset … rowOffset + n − 1: standard normals keyed by (seed, sample index), so any batching gives the same rows */
export const noiseRows = (seed: number, n: number, D: number, rowOffset = 0): Float64Array => Noise.normals(seed, { step: 0, stream: 1000 }, n, D, rowOffset)

/** run a compiled program on x_T (row-major n·D) in batches; returns x_0 (row-major, float64 copies of the float32 results) */
export const sample = (l: Loaded, p: Prog.Program, xT: Float64Array, o: SampleOptions = {}): Float64Array => {
  const D = l.D
  const n = xT.length / D
  if (!Number.isInteger(n) || n === 0) throw new Error(`x_T has ${xT.length} values: expected rows of D = ${D} values (shape ${JSON.stringify(l.card.shape)})`)
  if (o.labels !== undefined && o.labels.length !== n) throw new Error(`${o.labels.length} labels for ${n} rows; give one label per row`)
  const out = new Float64Array(n * D)
  const batch = Math.max(1, o.batch ?? 256)
  for (let r0 = 0; r0 < n; r0 += batch) {
    const r1 = Math.min(n, r0 + batch)
    const m = l.model({ ...(o.labels === undefined ? {} : { labels: o.labels.slice(r0, r1) }), ...(o.w === undefined ? {} : { w: o.w }) })
    const x = Tfjs.fromFloat64(xT.subarray(r0 * D, r1 * D), D)
    try {
      const r = Tfjs.run(p, m.model.call, { seed: o.seed ?? 0, rowOffset: (o.rowOffset ?? 0) + r0 })(x)
      out.set(Tfjs.toFloat64(r.x), r0 * D)
      r.x.dispose()
    } finally {
      x.dispose()
      m.dispose()
    }
    o.progress?.(r1, n)
  }
  return out
}

/**
 * Models from saved TensorFlow.js networks: a file IOHandler that reads `model.json` and its weight
 * shards with node:fs (no tfjs-node needed) and one that writes them, loading of a `tf.LayersModel` or
 * `tf.GraphModel`, and the adapter that turns a network net(x, τ) into a stepwise model with its
 * parameterization and time-input convention (DPM-Solver's discrete timestep, 999·t, σ̄, diffusers').
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as M from '../models/Model.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import type * as P from '../core/Parameterization.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a loaded network */
export type Network = tf.LayersModel | tf.GraphModel

/**
 * how the network reads time: `Model.TimeInput` ('continuous' t, {discrete: N} = 1000·(t − 1/N), 'scaled999',
 * 'sigmaBar'), {timestep: N} = the integer index n of t = (n+1)/N (round(N·t − 1), clamped to 0 … N−1),
 * {scaled: k} = k·t, or any function of the point
 */
export type TimeInput = M.TimeInput | { readonly timestep: number } | { readonly scaled: number } | ((at: Point) => number)

/**
 * how τ reaches the network: 'pair' as a second input ([B] or [B, 1], from the input's rank), 'concat'
 * as an extra last column of the one input ([B, D + 1]), 'none' not at all; default: 'pair' for two
 * inputs, 'concat' for one input of width D + 1
 */
export type TimeWiring = 'pair' | 'concat' | 'none'

/** adapter options */
export interface Options {
  /** what the network outputs */
  readonly param: P.Parameterization
  readonly time: TimeInput
  readonly wiring?: TimeWiring
}

/** a stepwise model over [B, D] float32 tensors; `call` returns a new tensor (intermediates are disposed) */
export interface TfModel extends M.Model<tf.Tensor2D> {
  /** dispose the network's weights */
  readonly dispose: () => void
}

// -------------------------------------------------------------------------------------------------
// IO handlers
// -------------------------------------------------------------------------------------------------

const readBytes = (file: string): ArrayBuffer => {
  const b = fs.readFileSync(file)
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer
}

/** a load handler for `model.json` on the local file system; weight shard paths are relative to its directory */
export const fileHandler = (modelJson: string): tf.io.IOHandler => ({
  load: async () => {
    let json: tf.io.ModelJSON
    try {
      json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as tf.io.ModelJSON
    } catch (e) {
      throw new Error(`cannot read the model ${modelJson}: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (typeof json !== 'object' || json === null || json.modelTopology === undefined) throw new Error(`${modelJson} is not a TensorFlow.js model.json (no modelTopology)`)
    const dir = path.dirname(modelJson)
    return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
      const specs = manifest.flatMap((g) => g.weights)
      const shards = manifest.flatMap((g) =>
        g.paths.map((p) => {
          const f = path.join(dir, p)
          if (!fs.existsSync(f)) throw new Error(`${modelJson}: weight shard ${p} not found (looked at ${f})`)
          return readBytes(f)
        }),
      )
      return [specs, tf.io.concatenateArrayBuffers(shards)]
    })
  },
})

/** a save handler that writes `model.json` and one weight shard `weights.bin` into `dir` (created if missing) */
export const fileSaver = (dir: string): tf.io.IOHandler => ({
  save: async (artifacts) => {
    fs.mkdirSync(dir, { recursive: true })
    const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData)
    const manifest: tf.io.WeightsManifestConfig = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }]
    if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('fileSaver: binary (GraphDef) topologies are not supported; save a LayersModel or a JSON graph')
    const json: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology ?? {},
      weightsManifest: manifest,
      ...(artifacts.format === undefined ? {} : { format: artifacts.format }),
      ...(artifacts.generatedBy === undefined ? {} : { generatedBy: artifacts.generatedBy }),
      ...(artifacts.convertedBy === undefined || artifacts.convertedBy === null ? {} : { convertedBy: artifacts.convertedBy }),
      ...(artifacts.trainingConfig === undefined ? {} : { trainingConfig: artifacts.trainingConfig }),
      ...(artifacts.signature === undefined ? {} : { signature: artifacts.signature }),
      ...(artifacts.userDefinedMetadata === undefined ? {} : { userDefinedMetadata: artifacts.userDefinedMetadata }),
    }
    fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(data))
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json))
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) }
  },
})

/** load a LayersModel or GraphModel from a local model.json (its `format`: 'layers-model' or 'graph-model') */
export const load = async (modelJson: string): Promise<Network> => {
  const format = (() => {
    try {
      return (JSON.parse(fs.readFileSync(modelJson, 'utf8')) as { format?: unknown }).format
    } catch (e) {
      throw new Error(`cannot read the model ${modelJson}: ${e instanceof Error ? e.message : String(e)}`)
    }
  })()
  if (format === 'graph-model') return tf.loadGraphModel(fileHandler(modelJson))
  if (format === 'layers-model' || format === undefined) return tf.loadLayersModel(fileHandler(modelJson))
  throw new Error(`${modelJson}: unknown model format ${JSON.stringify(format)}; expected 'layers-model' or 'graph-model'`)
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** τ of a point: Model.timeOf | round(N·t − 1) clamped to [0, N−1] | k·t | f(point) */
export const timeOf =
  (ti: TimeInput) =>
  (at: Point): number => {
    if (typeof ti === 'function') return ti(at)
    if (typeof ti === 'object' && 'timestep' in ti) return Math.min(ti.timestep - 1, Math.max(0, Math.round(ti.timestep * at.t - 1)))
    if (typeof ti === 'object' && 'scaled' in ti) return ti.scaled * at.t
    return M.timeOf(ti)(at)
  }

/** the static shapes of a network's inputs (null / −1 for unknown dimensions) */
const inputShapes = (net: Network): ReadonlyArray<ReadonlyArray<number | null>> => net.inputs.map((i) => (i.shape ?? []).map((d) => (d === null || d === undefined || d < 0 ? null : d)))

/** the wiring a network's inputs imply for data width D */
export const wiringOf = (net: Network, D: number): TimeWiring => {
  const shapes = inputShapes(net)
  if (shapes.length === 2) return 'pair'
  if (shapes.length === 1 && shapes[0]!.at(-1) === D + 1) return 'concat'
  if (shapes.length === 1 && shapes[0]!.at(-1) === D) return 'none'
  throw new Error(
    `cannot tell how the network reads time: inputs ${JSON.stringify(shapes)} for data of width ${D}; ` + `expected [x, τ] (two inputs), one input [B, ${D + 1}] (τ as the last column) or pass wiring`,
  )
}

const single = (out: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor => {
  if (out instanceof tf.Tensor) return out
  const list = Array.isArray(out) ? out : Object.values(out)
  if (list.length !== 1) throw new Error(`the network has ${list.length} outputs; expected one (the prediction)`)
  return list[0]!
}

/**
 * a stepwise model from a network: out = net(x, τ(at)) with τ broadcast over the batch; the output is
 * the `param` prediction, reshaped to [B, D]
 */
export const fromNetwork = (net: Network, o: Options): TfModel => {
  const tau = timeOf(o.time)
  const shapes = inputShapes(net)
  const call = (x: tf.Tensor2D, at: Point): tf.Tensor2D =>
    tf.tidy(() => {
      const [B, Dx] = x.shape
      const wiring = o.wiring ?? wiringOf(net, Dx)
      const t = tau(at)
      const inputs = wiring === 'none' ? x : wiring === 'concat' ? tf.concat([x, tf.fill([B, 1], t)], 1) : [x, (shapes[1]?.length ?? 2) === 1 ? tf.fill([B], t) : tf.fill([B, 1], t)]
      const out = single(net.predict(inputs))
      if (out.size !== B * Dx) throw new Error(`the network returned shape [${out.shape.join(', ')}] for a [${B}, ${Dx}] input; expected ${B * Dx} values`)
      return (out.dtype === 'float32' ? out : out.toFloat()).reshape([B, Dx])
    })
  return { param: o.param, call, dispose: () => net.dispose() }
}

/**
 * tfjs-layers models on the local file system in the standard format `model.json` +
 * `group1-shard1of1.bin` (what `tf.loadLayersModel` reads in Node and in the browser), without
 * tfjs-node: saving through `tf.io.withSaveHandler`, loading through TfjsModel's file handler.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as TM from '../run/TfjsModel.ts'

/** the weight shard's file name (tfjs' own naming for one shard) */
export const SHARD = 'group1-shard1of1.bin'

/** write `model.json` and `group1-shard1of1.bin` into `dir` (created; each file written atomically) with `metadata` as userDefinedMetadata */
export const save = async (model: tf.LayersModel, dir: string, metadata: Record<string, unknown> = {}): Promise<void> => {
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      fs.mkdirSync(dir, { recursive: true })
      const data = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(a.weightData)
      const json: tf.io.ModelJSON = {
        format: 'layers-model',
        generatedBy: a.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: a.modelTopology as tf.io.ModelJSON['modelTopology'],
        weightsManifest: [{ paths: [SHARD], weights: a.weightSpecs ?? [] }],
        userDefinedMetadata: metadata as unknown as NonNullable<tf.io.ModelJSON['userDefinedMetadata']>,
      }
      const write = (file: string, bytes: Uint8Array | string) => {
        fs.writeFileSync(`${file}.tmp`, bytes)
        fs.renameSync(`${file}.tmp`, file)
      }
      write(path.join(dir, SHARD), new Uint8Array(data))
      write(path.join(dir, 'model.json'), JSON.stringify(json))
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) }
    }),
  )
}

/** load `dir/model.json` as a LayersModel */
export const load = (dir: string): Promise<tf.LayersModel> => tf.loadLayersModel(TM.fileHandler(path.join(dir, 'model.json')))

/** the userDefinedMetadata of `dir/model.json` */
export const metadata = (dir: string): Record<string, unknown> =>
  (JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { userDefinedMetadata?: Record<string, unknown> }).userDefinedMetadata ?? {}

/**
 * seeded initial weights (every random number from `rnd`): kernels Glorot-uniform over their fan-in/out
 * (conv: receptive field × channels), times `scale(name)` (0 zeroes a layer), biases 0; returns the number of parameters
 */
export const initWeights = (model: tf.LayersModel, rnd: () => number, scale: (layerName: string) => number = () => 1): number => {
  let count = 0
  const values = model.weights.map((w) => {
    const shape = w.shape as number[]
    const size = shape.reduce((a, b) => a * b, 1)
    count += size
    const isKernel = w.originalName.endsWith('/kernel') || w.originalName.endsWith('/embeddings')
    if (!isKernel) return tf.zeros(shape)
    const field = shape.slice(0, -2).reduce((a, b) => a * b, 1)
    const fanIn = field * (shape.at(-2) ?? 1)
    const fanOut = field * (shape.at(-1) ?? 1)
    const limit = Math.sqrt(6 / (fanIn + fanOut)) * scale(w.originalName.split('/')[0]!)
    return tf.tensor(
      Float32Array.from({ length: size }, () => (2 * rnd() - 1) * limit),
      shape,
    )
  })
  model.setWeights(values)
  tf.dispose(values)
  return count
}

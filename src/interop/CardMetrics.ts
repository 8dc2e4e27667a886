/**
 * Metrics of a card's samples with its classifier (a tfjs-layers model): the penultimate features (FID's substitute
 * for Inception on small datasets), the Fréchet distance to the card's reference statistics (held-out real data),
 * class accuracy of conditional samples, and k-NN precision / recall against reference features when given.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as t from 'io-ts'
import * as U from '../core/Codec.ts'
import * as Fid from '../core/Fid.ts'
import * as TM from '../run/TfjsModel.ts'
import type * as Card from './Card.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the format tag of reference statistics files */
export const STATS_FORMAT = 'stepwise-fid-stats/v1'

const StatsC = U.closed('a stepwise-fid-stats/v1 file', { format: t.literal(STATS_FORMAT), n: U.positiveInt, d: U.positiveInt, mean: t.array(t.number), cov: t.array(t.number) }, { source: U.string })

/** a loaded classifier: features and predicted classes of flattened samples (row-major n·D, the card's data range) */
export interface Classifier {
  readonly featureDim: number
  readonly features: (x: Float64Array) => Float64Array
  readonly classify: (x: Float64Array) => Int32Array
  readonly dispose: () => void
}

/** what `evaluate` reports */
export interface Report {
  readonly n: number
  readonly fid: number | undefined
  readonly accuracy: number | undefined
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** load the card's classifier; its feature layer is `classifier.features` (default: the penultimate layer) */
export const classifier = async (c: Card.Card, chunk = 500): Promise<Classifier> => {
  if (c.classifier === undefined) throw new Error('this card has no "classifier": {"file": …} (FID and accuracy need one)')
  const net = (await TM.load(path.resolve(c.dir, c.classifier.file))) as tf.LayersModel
  if (!('getLayer' in net)) throw new Error('classifier: expected a tfjs-layers model')
  const name = c.classifier.features ?? net.layers[net.layers.length - 2]!.name
  const feat = tf.model({ inputs: net.inputs, outputs: net.getLayer(name).output as tf.SymbolicTensor })
  const featureDim = (feat.outputs[0]!.shape[1] as number | null) ?? 0
  const D = c.shape.reduce((a, b) => a * b, 1)
  const chunks = <A extends Float64Array | Int32Array>(x: Float64Array, f: (t: tf.Tensor2D) => tf.Tensor, make: (n: number) => A, width: number): A => {
    const n = x.length / D
    const out = make(n * width)
    for (let r0 = 0; r0 < n; r0 += chunk) {
      const r1 = Math.min(n, r0 + chunk)
      const y = tf.tidy(() => f(tf.tensor2d(Float32Array.from(x.subarray(r0 * D, r1 * D)), [r1 - r0, D])))
      out.set(y.dataSync() as ArrayLike<number>, r0 * width)
      y.dispose()
    }
    return out
  }
  return {
    featureDim,
    features: (x) =>
      chunks(
        x,
        (v) => feat.predict(v) as tf.Tensor,
        (n) => new Float64Array(n),
        featureDim,
      ),
    classify: (x) =>
      chunks(
        x,
        (v) => tf.argMax(net.predict(v) as tf.Tensor, 1),
        (n) => new Int32Array(n),
        1,
      ),
    dispose: () => net.dispose(),
  }
}

/** read reference statistics (io-ts decoded) */
export const readStats = (file: string): Fid.Stats => {
  const u: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
  const s = U.decodeOrThrow(StatsC, file)(u)
  if (s.mean.length !== s.d || s.cov.length !== s.d * s.d) throw new Error(`${file}: mean has ${s.mean.length} and cov ${s.cov.length} values for d = ${s.d}`)
  return { n: s.n, d: s.d, mean: Float64Array.from(s.mean), cov: Float64Array.from(s.cov) }
}

/** the JSON of reference statistics */
export const statsJson = (s: Fid.Stats, source: string): string => JSON.stringify({ format: STATS_FORMAT, n: s.n, d: s.d, mean: Array.from(s.mean), cov: Array.from(s.cov), source })

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** FID against the card's reference (when it has one) and accuracy against the labels (when given) */
export const evaluate = (c: Card.Card, cl: Classifier, x: Float64Array, labels?: ReadonlyArray<number>): Report => {
  const D = c.shape.reduce((a, b) => a * b, 1)
  const n = x.length / D
  const fid = c.reference === undefined ? undefined : Fid.distance(Fid.stats(cl.features(x), cl.featureDim), readStats(path.resolve(c.dir, c.reference)))
  const accuracy =
    labels === undefined
      ? undefined
      : (() => {
          const k = cl.classify(x)
          let ok = 0
          for (let i = 0; i < n; i++) if (k[i] === labels[i]) ok++
          return ok / n
        })()
  return { n, fid, accuracy }
}

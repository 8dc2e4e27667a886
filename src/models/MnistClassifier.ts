/**
 * A small MNIST classifier (tfjs-layers, standard layers only) on x [B, 784] in [−1, 1] (the diffusion
 * models' range): conv 32 → max-pool → conv 64 → max-pool → conv 64 → flatten → Dense 128 (the named
 * feature layer `features`, swish: the 128-d embedding used for FID) → Dense 10 logits.
 */
import * as tf from '@tensorflow/tfjs'
import * as LayersIO from './LayersIO.ts'

/** the penultimate layer's name (128-d features for FID) */
export const FEATURES = 'features'
/** feature width */
export const FEATURE_DIM = 128

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor

/** the untrained classifier (logits output) */
export const build = (): tf.LayersModel => {
  const x = tf.input({ shape: [784], name: 'x' })
  let h = apply(tf.layers.reshape({ targetShape: [28, 28, 1], name: 'to_image' }), x)
  h = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'swish' as never, name: 'conv1' }), h)
  h = apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }), h)
  h = apply(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'swish' as never, name: 'conv2' }), h)
  h = apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }), h)
  h = apply(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'swish' as never, name: 'conv3' }), h)
  h = apply(tf.layers.flatten({ name: 'flatten' }), h)
  h = apply(tf.layers.dense({ units: FEATURE_DIM, activation: 'swish' as never, name: FEATURES }), h)
  const out = apply(tf.layers.dense({ units: 10, name: 'logits' }), h)
  return tf.model({ inputs: x, outputs: out, name: 'mnist_classifier' })
}

/** seeded Glorot-uniform kernels, zero biases; returns the parameter count */
export const init = (net: tf.LayersModel, rnd: () => number): number => LayersIO.initWeights(net, rnd)

/** a model from x to the 128-d features (shares the classifier's weights) */
export const featureModel = (net: tf.LayersModel): tf.LayersModel => tf.model({ inputs: net.inputs, outputs: net.getLayer(FEATURES).output as tf.SymbolicTensor })

/** logits [B, 10] of x [B, 784] in [−1, 1], in batches of `chunk` */
export const logits = (net: tf.LayersModel, x: tf.Tensor2D, chunk = 500): tf.Tensor2D =>
  tf.tidy(() => {
    const B = x.shape[0]
    const parts: tf.Tensor2D[] = []
    for (let i = 0; i < B; i += chunk) parts.push(net.predict(tf.slice(x, [i, 0], [Math.min(chunk, B - i), -1])) as tf.Tensor2D)
    return parts.length === 1 ? parts[0]! : tf.concat(parts, 0)
  })

/** predicted classes of x [B, 784] in [−1, 1] */
export const classify = (net: tf.LayersModel, x: tf.Tensor2D): Int32Array => {
  const am = tf.tidy(() => tf.argMax(logits(net, x), 1))
  const out = Int32Array.from(am.dataSync())
  am.dispose()
  return out
}

/** fraction of x whose predicted class is `labels` */
export const accuracy = (net: tf.LayersModel, x: tf.Tensor2D, labels: ArrayLike<number>): number => {
  const p = classify(net, x)
  let ok = 0
  for (let i = 0; i < p.length; i++) if (p[i] === labels[i]) ok++
  return ok / p.length
}

/** save to `dir` (model.json + group1-shard1of1.bin) */
export const save = (net: tf.LayersModel, dir: string, extra: Record<string, unknown> = {}): Promise<void> =>
  LayersIO.save(net, dir, { kind: 'stepwise-mnist-classifier/v1', input: 'x: [B, 784] in [-1, 1]', output: 'logits [B, 10]', features: FEATURES, featureDim: FEATURE_DIM, ...extra })

/** load the classifier saved in `dir` */
export const load = (dir: string): Promise<tf.LayersModel> => LayersIO.load(dir)

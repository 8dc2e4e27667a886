/**
 * A small class-conditional noise-prediction U-Net for 28×28 MNIST digits in [−1, 1], as a standard
 * tfjs-layers model (Conv2D, Dense, AveragePooling2D, UpSampling2D, Add, Concatenate, swish: loadable by
 * `tf.loadLayersModel` anywhere, no custom layers). Inputs: x [B, 784], the sinusoidal embedding of the
 * discrete timestep τ [B, 64] (`timeEmbedding`, computed outside so the graph stays standard) and the
 * one-hot class [B, 11] (index 10 = the "null" label of classifier-free guidance). Output ε̂ [B, 784].
 * Three resolutions 28/14/7 with 16/32/64 channels, one residual block per level (two at 7×7), the
 * condition (time + class, 128-d) added after each block's first conv. Noise schedule: DDPM's linear
 * β from 1e-4 to 0.02, N = 1000 (`Betas.discrete`, integer timestep n at t = (n+1)/N); time input
 * `{ discrete: 1000 }` (τ = 1000·(t − 1/N) = n at the knots, fractional between them).
 */
import * as tf from '@tensorflow/tfjs'
import * as Betas from '../core/Betas.ts'
import type * as Guidance from './Guidance.ts'
import * as M from './Model.ts'
import type { NoiseSchedule, Point } from '../core/NoiseSchedule.ts'
import type * as Tfjs from '../run/Tfjs.ts'
import * as LayersIO from './LayersIO.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the architecture's sizes */
export interface Arch {
  /** channels at 28, 14, 7 */
  readonly channels: readonly [number, number, number]
  /** width of the sinusoidal time embedding */
  readonly embedding: number
  /** width of the condition vector (time + class) */
  readonly cond: number
}

/** a guided ε-model that owns tensors (its conditions): `dispose()` frees them */
export interface Owned extends M.Model<tf.Tensor2D> {
  readonly dispose: () => void
}

/** the shipped architecture */
export const ARCH: Arch = { channels: [16, 32, 64], embedding: 64, cond: 128 }
/** one-hot width: 10 classes + the null label */
export const LABELS = 11
/** the null label's index (classifier-free guidance's unconditional model) */
export const NULL_LABEL = 10
/** training timesteps */
export const N = 1000
/** how the network reads time: DPM-Solver's discrete convention, τ = 1000·(t − 1/N) */
export const TIME: M.TimeInput = { discrete: N }

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const conv = (filters: number, kernel: number, name: string) => tf.layers.conv2d({ filters, kernelSize: kernel, padding: 'same', name })
const swish = (name: string) => tf.layers.activation({ activation: 'swish' as never, name })
const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor

/** h + conv(swish(conv(swish(h)) + Dense(cond))) (a 1×1 conv on the skip when the width changes) */
const resBlock = (h: tf.SymbolicTensor, cond: tf.SymbolicTensor, cout: number, name: string): tf.SymbolicTensor => {
  const cin = h.shape[h.shape.length - 1]!
  let a = apply(swish(`${name}_act1`), h)
  a = apply(conv(cout, 3, `${name}_conv1`), a)
  const e = apply(tf.layers.reshape({ targetShape: [1, 1, cout], name: `${name}_cond_reshape` }), apply(tf.layers.dense({ units: cout, name: `${name}_cond` }), cond))
  a = apply(tf.layers.add({ name: `${name}_add_cond` }), [a, e])
  a = apply(swish(`${name}_act2`), a)
  a = apply(conv(cout, 3, `${name}_conv2`), a)
  const skip = cin === cout ? h : apply(conv(cout, 1, `${name}_skip`), h)
  return apply(tf.layers.add({ name: `${name}_out` }), [skip, a])
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the untrained network (tfjs' default initializers; `init` for the seeded ones) */
export const build = (a: Arch = ARCH): tf.LayersModel => {
  const [c1, c2, c3] = a.channels
  const x = tf.input({ shape: [784], name: 'x' })
  const temb = tf.input({ shape: [a.embedding], name: 'temb' })
  const label = tf.input({ shape: [LABELS], name: 'label' })
  let t = apply(tf.layers.dense({ units: a.cond, activation: 'swish' as never, name: 'time_dense1' }), temb)
  t = apply(tf.layers.dense({ units: a.cond, name: 'time_dense2' }), t)
  const c = apply(tf.layers.dense({ units: a.cond, useBias: false, name: 'class_embed' }), label)
  const cond = apply(swish('cond_act'), apply(tf.layers.add({ name: 'cond_add' }), [t, c]))
  let h = apply(tf.layers.reshape({ targetShape: [28, 28, 1], name: 'to_image' }), x)
  h = apply(conv(c1, 3, 'in_conv'), h)
  const s1 = (h = resBlock(h, cond, c1, 'down28'))
  h = apply(tf.layers.averagePooling2d({ poolSize: 2, name: 'pool28' }), h)
  const s2 = (h = resBlock(h, cond, c2, 'down14'))
  h = apply(tf.layers.averagePooling2d({ poolSize: 2, name: 'pool14' }), h)
  h = resBlock(h, cond, c3, 'mid7a')
  h = resBlock(h, cond, c3, 'mid7b')
  h = apply(tf.layers.upSampling2d({ size: [2, 2], name: 'up7' }), h)
  h = resBlock(apply(tf.layers.concatenate({ name: 'cat14' }), [h, s2]), cond, c2, 'up14')
  h = apply(tf.layers.upSampling2d({ size: [2, 2], name: 'up14_to_28' }), h)
  h = resBlock(apply(tf.layers.concatenate({ name: 'cat28' }), [h, s1]), cond, c1, 'up28')
  h = apply(swish('out_act'), h)
  h = apply(conv(1, 3, 'out_conv'), h)
  const out = apply(tf.layers.reshape({ targetShape: [784], name: 'eps' }), h)
  return tf.model({ inputs: [x, temb, label], outputs: out, name: 'mnist_eps' })
}

/** seeded weights: Glorot-uniform kernels, zero biases, the last conv of every block and the output conv zero (each block starts as the identity); returns the parameter count */
export const init = (net: tf.LayersModel, rnd: () => number): number => LayersIO.initWeights(net, rnd, (layer) => (layer.endsWith('_conv2') || layer === 'out_conv' ? 0 : 1))

/** the noise schedule it is trained under: DDPM's linear betas 1e-4 … 0.02, N = 1000, as the library's discrete VP schedule */
export const schedule = (): NoiseSchedule => Betas.discrete(Betas.alphasCumprod(Betas.linear(1e-4, 0.02, N)))

/** ᾱ_n of the training timesteps 0 … N − 1 */
export const alphaBars = (): ReadonlyArray<number> => Betas.alphasCumprod(Betas.linear(1e-4, 0.02, N))

/** the network's time input at a point (τ = 1000·(t − 1/N)) */
export const timestepOf = (at: Point): number => M.timeOf(TIME)(at)

/** sinusoidal embedding [sin(τ·f_k), cos(τ·f_k)], f_k = 10000^(−k/(d/2)), k < d/2, one row per τ */
export const timeEmbedding = (taus: ArrayLike<number>, d: number = ARCH.embedding): Float32Array => {
  const half = d / 2
  const out = new Float32Array(taus.length * d)
  for (let r = 0; r < taus.length; r++)
    for (let k = 0; k < half; k++) {
      const a = taus[r]! * Math.exp((-Math.log(10000) * k) / half)
      out[r * d + k] = Math.sin(a)
      out[r * d + half + k] = Math.cos(a)
    }
  return out
}

/** one-hot rows [B, 11] of labels 0 … 10 (10 = null) */
export const oneHot = (labels: ArrayLike<number>): Float32Array => {
  const out = new Float32Array(labels.length * LABELS)
  for (let i = 0; i < labels.length; i++) out[i * LABELS + labels[i]!] = 1
  return out
}

/** ε̂ = net(x, emb(τ), c) for x [B, 784], one τ per row or one for all, c one-hot [B, 11]; a new tensor */
export const predict = (net: tf.LayersModel, x: tf.Tensor2D, tau: number | ArrayLike<number>, c: tf.Tensor2D, training = false): tf.Tensor2D =>
  tf.tidy(() => {
    const B = x.shape[0]
    const d = (net.inputs[1]!.shape[1] as number | null) ?? ARCH.embedding
    const e = typeof tau === 'number' ? tf.tile(tf.tensor2d(timeEmbedding([tau], d), [1, d]), [B, 1]) : tf.tensor2d(timeEmbedding(tau, d), [B, d])
    return (training ? net.apply([x, e, c], { training: true }) : net.predict([x, e, c])) as tf.Tensor2D
  })

/** the network as the library's conditional ε-model (condition: one-hot rows [B, 11]) */
export const conditional = (net: tf.LayersModel): Guidance.Conditional<tf.Tensor2D> => ({
  param: 'eps',
  call: (x, at, c) => predict(net, x, timestepOf(at), c),
})

/**
 * classifier-free guidance for fixed labels: ε = ε_∅ + w·(ε_c − ε_∅) from one batched call on [x; x] with
 * [∅; c] (w = 1: ε_c alone, one call); a Tfjs interpreter model that owns its condition tensors
 */
export const guided = (net: tf.LayersModel, labels: ArrayLike<number>, w: number): Owned => {
  const B = labels.length
  const c = tf.tensor2d(oneHot(labels), [B, LABELS])
  const both = tf.tensor2d(oneHot([...Array.from({ length: B }, () => NULL_LABEL), ...Array.from(labels)]), [2 * B, LABELS])
  const call: Tfjs.Model = (x, at) =>
    tf.tidy(() => {
      if (w === 1) return predict(net, x, timestepOf(at), c)
      const [u, e] = tf.split(predict(net, tf.concat([x, x], 0), timestepOf(at), both), 2, 0) as [tf.Tensor2D, tf.Tensor2D]
      return tf.add(u, tf.mul(tf.sub(e, u), w))
    })
  return { param: 'eps', call, dispose: () => tf.dispose([c, both]) }
}

/** save to `dir` (model.json + group1-shard1of1.bin) with the conventions as metadata */
export const save = (net: tf.LayersModel, dir: string, extra: Record<string, unknown> = {}): Promise<void> =>
  LayersIO.save(net, dir, {
    kind: 'stepwise-mnist-eps/v1',
    arch: ARCH,
    prediction: 'eps',
    schedule: { betas: 'linear', betaStart: 1e-4, betaEnd: 0.02, N },
    time: { input: 'discrete', N, note: 'tau = 1000*(t - 1/N); the integer timestep n sits at t = (n+1)/N' },
    inputs: ['x: [B, 784] in [-1, 1]', 'temb: [B, 64] sinusoidal embedding of tau (timeEmbedding)', 'label: [B, 11] one-hot, 10 = null'],
    ...extra,
  })

/** load the network saved in `dir` */
export const load = (dir: string): Promise<tf.LayersModel> => LayersIO.load(dir)

/**
 * The learned denoiser (Learned.ts) as tfjs ops: the model for the Tfjs interpreter, seeded
 * training (Adam on the ε-loss, every random number drawn in JS from the seed, so the same seed
 * gives the same weights), and the autodiff DPM-Solver-v3's EMS estimation asks for (a VJP for the
 * Hutchinson diagonal, a VJP of a VJP for the JVP dε̂/dλ along the probability-flow ODE).
 */
import * as tf from '@tensorflow/tfjs'
import type * as DpmV3 from '../core/DpmV3.ts'
import * as Gmm from '../core/Gmm.ts'
import * as L from '../models/Learned.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import type * as Tfjs from './Tfjs.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a tfjs model that owns tensors: `dispose()` frees them (the model must not be called afterwards) */
export interface Owned extends Tfjs.Model {
  readonly dispose: () => void
}

/** a probe that owns tensors */
export interface OwnedProbe {
  readonly probe: DpmV3.Probe
  readonly dispose: () => void
}

/** training settings (Learned.Training without the results) */
export interface TrainOptions {
  readonly seed: number
  readonly steps: number
  readonly batch: number
  readonly lr: number
  /** called every `every` steps with the mean loss since the last call */
  readonly progress?: (step: number, loss: number) => void
  readonly every?: number
}

/** weights as tensors: W_k [in, out], b_k [1, out] */
interface Params {
  readonly W: ReadonlyArray<tf.Tensor2D>
  readonly b: ReadonlyArray<tf.Tensor2D>
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** x·W with the gradient written with explicit transposes (the wasm backend's transposed matMul is several times slower) */
const linear = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, W, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc]
  save([x, W])
  return {
    value: tf.matMul(x, W),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1]!) as tf.Tensor2D), tf.matMul(tf.transpose(saved[0]!) as tf.Tensor2D, dy as tf.Tensor2D)],
  }
}) as (x: tf.Tensor2D, W: tf.Tensor2D) => tf.Tensor2D

/** emb(λ) as in Learned.embed: [u, sin(πku/2), cos(πku/2)], u = λ/5; lambda [B, 1] or [1, 1] */
const embedding = (lambda: tf.Tensor2D, F: number, B: number): tf.Tensor2D => {
  const u = tf.div(lambda, L.LAMBDA_SCALE)
  const arg = tf.mul(
    u,
    tf.tensor2d(
      Float32Array.from({ length: F }, (_, k) => (Math.PI * (k + 1)) / 2),
      [1, F],
    ),
  )
  const e = tf.concat([u, tf.sin(arg), tf.cos(arg)], 1) as tf.Tensor2D
  return e.shape[0] === B ? e : tf.tile(e, [B, 1])
}

/** [x, sin(2ʲx)_{j<Fx}, cos(2ʲx)_{j<Fx}] as in Learned.featurize */
const features = (x: tf.Tensor2D, Fx: number): ReadonlyArray<tf.Tensor2D> => {
  const ws = Array.from({ length: Fx }, (_, j) => tf.mul(x, 2 ** j) as tf.Tensor2D)
  return [x, ...ws.map((w) => tf.sin(w)), ...ws.map((w) => tf.cos(w))]
}

/** ε̂ = W_L·silu(…silu([x, φ(x), emb(λ)]·W_1 + b_1)…) + b_L; `fast` uses the custom-gradient matMul (first-order gradients) */
const forward =
  (p: Params, a: Pick<L.Learned, 'frequencies' | 'features'>, fast: boolean) =>
  (x: tf.Tensor2D, lambda: tf.Tensor2D): tf.Tensor2D => {
    const mm = fast ? linear : (y: tf.Tensor2D, W: tf.Tensor2D) => tf.matMul(y, W)
    let h = tf.concat([...features(x, a.features), embedding(lambda, a.frequencies, x.shape[0])], 1) as tf.Tensor2D
    p.W.forEach((W, k) => {
      const z = tf.add(mm(h, W), p.b[k]!) as tf.Tensor2D
      h = k === p.W.length - 1 ? z : (tf.mul(z, tf.sigmoid(z)) as tf.Tensor2D)
    })
    return h
  }

const upload = (layers: ReadonlyArray<L.Layer>): Params => ({
  W: layers.map((y) => tf.tensor2d(y.W, [y.inputs, y.outputs])),
  b: layers.map((y) => tf.tensor2d(y.b, [1, y.outputs])),
})

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the Tfjs interpreter's model (native output ε): weights uploaded once, each call leaves only its result */
export const model = (l: L.Learned): Owned => {
  const p = upload(l.layers)
  const net = forward(p, l, false)
  const call = (x: tf.Tensor2D, at: Point): tf.Tensor2D => tf.tidy(() => net(x, tf.tensor2d([at.lambda], [1, 1])))
  return Object.assign(call, { dispose: () => tf.dispose([...p.W, ...p.b]) })
}

/**
 * the EMS probe: ε̂, Jᵀv = ∇ₓ Σ ε̂⊙v (VJP) and dε̂/dλ = J·(σ²x − σε̂) + ∂ε̂/∂λ along the PF-ODE
 * (VP: dx/dλ = σ²x − σε̂), the JVP as the gradient in w of ⟨∇_{x,λ}⟨ε̂, w⟩, (dx/dλ, 1)⟩ (a VJP of a VJP)
 */
export const probe = (l: L.Learned): OwnedProbe => {
  const p = upload(l.layers)
  const net = forward(p, l, false)
  const run: DpmV3.Probe = (xs, at, vs) => {
    const B = xs.length / l.D
    const outs = tf.tidy(() => {
      const x = tf.tensor2d(Float32Array.from(xs), [B, l.D])
      const v = tf.tensor2d(Float32Array.from(vs), [B, l.D])
      const lam = tf.fill([B, 1], at.lambda) as tf.Tensor2D
      const eps = net(x, lam)
      const jtv = tf.grad((y: tf.Tensor) => tf.sum(tf.mul(net(y as tf.Tensor2D, lam), v)))(x)
      const dx = tf.sub(tf.mul(x, at.sigma ** 2), tf.mul(eps, at.sigma))
      const jvp = tf.grad((w: tf.Tensor) => {
        const [gx, gl] = tf.grads((y: tf.Tensor, m: tf.Tensor) => tf.sum(tf.mul(net(y as tf.Tensor2D, m as tf.Tensor2D), w)))([x, lam])
        return tf.add(tf.sum(tf.mul(gx!, dx)), tf.sum(gl!))
      })(tf.zerosLike(x))
      return [eps, jtv, jvp]
    })
    const [eps, jtv, deps] = outs.map((t) => Float64Array.from(t.dataSync()))
    tf.dispose(outs)
    return { eps: eps!, jtv: jtv!, deps: deps! }
  }
  return { probe: run, dispose: () => tf.dispose([...p.W, ...p.b]) }
}

/**
 * train from `seed`: Glorot init (Learned.init), then `steps` Adam steps (β = 0.9, 0.999; cosine decay
 * lr → lr/100) on mean (ε̂(α·x0 + σ·z, λ) − z)² over batches drawn without replacement from the
 * dataset (a fresh seeded permutation per epoch), t uniform in [t0, T] (the DDPM ε-loss)
 */
export const train = (a: L.Arch, o: TrainOptions): L.Learned => {
  const ns = L.scheduleOf({ schedule: 'vp-linear' })
  const data = L.sample(a.dataset)
  const D = a.D
  const n = data.length / D
  const rnd = Gmm.mulberry32(o.seed ^ 0x5eed)
  const normal = Gmm.normalsFrom(rnd)
  const layers0 = L.init(a, o.seed)
  // tf.variable copies its initial value: create both inside tidy so only the variables remain
  const vars = tf.tidy(() => [...layers0.map((y) => tf.variable(tf.tensor2d(y.W, [y.inputs, y.outputs]))), ...layers0.map((y) => tf.variable(tf.tensor2d(y.b, [1, y.outputs])))])
  const k = layers0.length
  const params: Params = { W: vars.slice(0, k), b: vars.slice(k) }
  const m1 = tf.tidy(() => vars.map((v) => tf.variable(tf.zerosLike(v))))
  const m2 = tf.tidy(() => vars.map((v) => tf.variable(tf.zerosLike(v))))
  const net = forward(params, a, true)
  const nextRow = Gmm.epochRows(n, rnd)
  const every = o.every ?? 200
  let acc = 0
  let recent = 0
  for (let step = 0; step < o.steps; step++) {
    const x = new Float32Array(o.batch * D)
    const z = new Float32Array(o.batch * D)
    const lam = new Float32Array(o.batch)
    for (let r = 0; r < o.batch; r++) {
      const row = nextRow()
      const lambda = ns.lambda(ns.t0 + (ns.T - ns.t0) * rnd())
      const alpha = Math.sqrt(1 / (1 + Math.exp(-2 * lambda)))
      const sigma = Math.sqrt(1 / (1 + Math.exp(2 * lambda)))
      lam[r] = lambda
      for (let d = 0; d < D; d++) {
        const zz = normal()
        z[r * D + d] = zz
        x[r * D + d] = alpha * data[row * D + d]! + sigma * zz
      }
    }
    const lr = o.lr * (0.01 + 0.99 * 0.5 * (1 + Math.cos((Math.PI * step) / o.steps)))
    const loss = tf.tidy(() => {
      const xt = tf.tensor2d(x, [o.batch, D])
      const zt = tf.tensor2d(z, [o.batch, D])
      const lt = tf.tensor2d(lam, [o.batch, 1])
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(net(xt, lt), zt))) as tf.Scalar, vars)
      const c1 = 1 - 0.9 ** (step + 1)
      const c2 = 1 - 0.999 ** (step + 1)
      vars.forEach((v, j) => {
        const g = grads[v.name]!
        m1[j]!.assign(tf.add(tf.mul(m1[j]!, 0.9), tf.mul(g, 0.1)))
        m2[j]!.assign(tf.add(tf.mul(m2[j]!, 0.999), tf.mul(tf.square(g), 0.001)))
        v.assign(tf.sub(v, tf.mul(tf.div(tf.div(m1[j]!, c1), tf.add(tf.sqrt(tf.div(m2[j]!, c2)), 1e-8)), lr)))
      })
      return value.dataSync()[0]!
    })
    acc += loss
    if (step >= o.steps - 100) recent += loss
    if ((step + 1) % every === 0) {
      o.progress?.(step + 1, acc / every)
      acc = 0
    }
  }
  const layers = layers0.map((y, j) => ({ ...y, W: Float32Array.from(params.W[j]!.dataSync()), b: Float32Array.from(params.b[j]!.dataSync()) }))
  tf.dispose([...vars, ...m1, ...m2])
  return {
    format: L.FORMAT,
    name: a.name,
    schedule: 'vp-linear',
    D,
    hidden: a.hidden,
    frequencies: a.frequencies,
    features: a.features,
    dataset: a.dataset,
    training: { seed: o.seed, steps: o.steps, batch: o.batch, lr: o.lr, loss: recent / Math.min(100, o.steps) },
    layers,
  }
}

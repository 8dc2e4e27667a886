/**
 * The shipped MNIST models (models/mnist): both load in the standard tfjs-layers format and have the
 * documented shapes and size budget; the classifier is ≥ 97 % accurate on 500 held-out digits; the
 * ε-network's ε̂ on test digits noised here (so the true ε is known) at t ≈ 0.5 beats predicting
 * zero by a wide margin, conditionally and with the null label; guided sampling through the library's
 * Tfjs interpreter leaves no tensors behind; the wasm conv-gradient kernels match a direct sum.
 */
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import * as path from 'node:path'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as Gmm from '../src/core/Gmm.ts'
import * as Prog from '../src/run/Program.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as Classifier from '../src/models/MnistClassifier.ts'
import * as Data from '../src/models/MnistData.ts'
import * as LayersIO from '../src/models/LayersIO.ts'
import * as Net from '../src/models/MnistNet.ts'
import * as Png from '../src/models/Png.ts'
import * as WG from '../src/models/WasmConvGrad.ts'
import * as Solvers from '../src/solvers/index.ts'

const dir = path.join(import.meta.dirname, '..', 'models', 'mnist')
let eps: tf.LayersModel
let clf: tf.LayersModel
const test500 = () => Data.balanced(Data.load().test, 500)

before(async () => {
  await Tfjs.init('wasm')
  eps = await Net.load(path.join(dir, 'eps'))
  clf = await Classifier.load(path.join(dir, 'classifier'))
})
after(() => {
  eps.dispose()
  clf.dispose()
})

test('the package data: 10 000 digits split 8 004 / 1 996, every class in both, pixels in [0, 1]', () => {
  const { train, test } = Data.load()
  assert.equal(train.n + test.n, 10000)
  assert.equal(test.n, 1996)
  for (let c = 0; c < 10; c++) assert.ok(test.labels.includes(c) && train.labels.includes(c))
  assert.ok(train.images.every((v) => v >= 0 && v <= 1))
  const b = test500()
  assert.deepEqual(
    Array.from({ length: 10 }, (_, c) => b.labels.filter((l) => l === c).length),
    Array(10).fill(50),
  )
})

test('shapes, parameter counts and the committed size budget (≤ 8 MB for both)', () => {
  const x = tf.zeros([3, 784]) as tf.Tensor2D
  const c = tf.tensor2d(Net.oneHot([0, 5, Net.NULL_LABEL]), [3, 11])
  const e = Net.predict(eps, x, 500, c)
  assert.deepEqual(e.shape, [3, 784])
  const l = Classifier.logits(clf, x)
  assert.deepEqual(l.shape, [3, 10])
  const f = Classifier.featureModel(clf).predict(x) as tf.Tensor
  assert.deepEqual(f.shape, [3, Classifier.FEATURE_DIM])
  tf.dispose([x, c, e, l, f])
  assert.deepEqual(
    eps.inputs.map((i) => i.shape),
    [
      [null, 784],
      [null, Net.ARCH.embedding],
      [null, Net.LABELS],
    ],
  )
  const bytes = ['eps', 'classifier'].reduce((a, d) => a + statSync(path.join(dir, d, LayersIO.SHARD)).size + statSync(path.join(dir, d, 'model.json')).size, 0)
  assert.ok(bytes <= 8e6, `${bytes} bytes`)
  assert.ok(eps.countParams() * 4 <= 4.2e6, `${eps.countParams()} parameters`)
  assert.equal(LayersIO.metadata(path.join(dir, 'eps'))['prediction'], 'eps')
})

test('the classifier: ≥ 97 % on 500 held-out test digits', () => {
  const d = test500()
  const x = tf.tensor2d(Data.toSigned(d.images), [d.n, 784])
  const acc = Classifier.accuracy(clf, x, d.labels)
  x.dispose()
  assert.ok(acc >= 0.97, `accuracy ${acc}`)
})

test('ε̂ at t ≈ 0.5 on test digits noised here: MSE far below predicting zero (conditional and null label)', () => {
  const d = Data.take(
    test500(),
    Array.from({ length: 100 }, (_, i) => i),
  )
  const n = 499 // t = (n + 1)/N = 0.5
  const ab = Net.alphaBars()[n]!
  const z = Float32Array.from(Gmm.normals(d.n * 784, 11))
  const x0 = Data.toSigned(d.images)
  const xt = x0.map((v, k) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * z[k]!)
  const at = Net.schedule()
  assert.ok(Math.abs(Net.timestepOf({ t: 0.5, alpha: at.alpha(0.5), sigma: at.sigma(0.5), lambda: at.lambda(0.5) }) - n) < 1e-9)
  const mse = (labels: ArrayLike<number>) =>
    tf.tidy(() => {
      const e = Net.predict(eps, tf.tensor2d(xt, [d.n, 784]), n, tf.tensor2d(Net.oneHot(labels), [d.n, 11]))
      return tf.mean(tf.square(tf.sub(e, tf.tensor2d(z, [d.n, 784])))).dataSync()[0]!
    })
  const zero = z.reduce((a, v) => a + v * v, 0) / z.length
  const cond = mse(d.labels)
  const uncond = mse(Array(d.n).fill(Net.NULL_LABEL))
  assert.ok(cond < 0.1 * zero, `conditional MSE ${cond} vs ${zero}`)
  assert.ok(uncond < 0.1 * zero, `null-label MSE ${uncond} vs ${zero}`)
})

test('guided sampling (CFG w = 3, DPM-Solver++(2M), 6 NFE) through the Tfjs interpreter: finite, tensors flat', () => {
  const program = Prog.compileOrThrow(Net.schedule(), 'eps')(Solvers.byId('dpmpp-2m')!.build({ nfe: 6 }))
  const run = () => {
    const m = Net.guided(eps, [0, 1, 7], 3)
    const xT = Tfjs.fromFloat64(Gmm.normals(3 * 784, 5), 784)
    const r = Tfjs.run(program, m.call)(xT)
    const x = r.x.dataSync()
    tf.dispose([xT, r.x])
    m.dispose()
    return x
  }
  run()
  const before = tf.memory().numTensors
  const x = run()
  assert.equal(tf.memory().numTensors, before)
  assert.ok(x.every(Number.isFinite))
})

test('WasmConvGrad: dW and dx of a strided and a stride-1 conv equal the direct sums', () => {
  WG.register()
  for (const s of [1, 2]) {
    const [B, H, C, K, F] = [2, 6, 2, 3, 3]
    const xs = Float32Array.from({ length: B * H * H * C }, (_, i) => Math.sin(1.7 * i))
    const ws = Float32Array.from({ length: K * K * C * F }, (_, i) => Math.cos(0.9 * i))
    const x = tf.tensor4d(xs, [B, H, H, C])
    const W = tf.tensor4d(ws, [K, K, C, F])
    const y = tf.conv2d(x, W, s, 'same')
    const [, Ho, Wo] = y.shape
    const dys = Float32Array.from({ length: y.size }, (_, i) => Math.sin(0.37 * i + 1))
    const dy = tf.tensor4d(dys, y.shape)
    const [gx, gw] = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, s, 'same'), dy)))([x, W])
    const pad = Math.floor(Math.max((Ho - 1) * s + K - H, 0) / 2)
    const dx = new Float64Array(xs.length)
    const dw = new Float64Array(ws.length)
    for (let b = 0; b < B; b++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++)
          for (let i = 0; i < K; i++)
            for (let j = 0; j < K; j++) {
              const [yy, xx] = [oy * s + i - pad, ox * s + j - pad]
              if (yy < 0 || yy >= H || xx < 0 || xx >= H) continue
              for (let c = 0; c < C; c++)
                for (let f = 0; f < F; f++) {
                  const g = dys[((b * Ho + oy) * Wo + ox) * F + f]!
                  dw[((i * K + j) * C + c) * F + f]! += xs[((b * H + yy) * H + xx) * C + c]! * g
                  dx[((b * H + yy) * H + xx) * C + c]! += ws[((i * K + j) * C + c) * F + f]! * g
                }
            }
    const err = (a: tf.Tensor, r: Float64Array) => Math.max(...Array.from(a.dataSync(), (v, k) => Math.abs(v - r[k]!)))
    assert.ok(err(gw!, dw) < 1e-4, `stride ${s} dW`)
    assert.ok(err(gx!, dx) < 1e-4, `stride ${s} dx`)
    tf.dispose([x, W, y, dy, gx!, gw!])
  }
})

test('Png: a valid greyscale PNG (signature, IHDR, chunk CRCs)', () => {
  const png = Png.grey(3, 2, Uint8Array.from([0, 128, 255, 1, 2, 3]))
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10])
  const v = new DataView(png.buffer, png.byteOffset)
  assert.equal(String.fromCharCode(...png.subarray(12, 16)), 'IHDR')
  assert.equal(v.getUint32(16), 3)
  assert.equal(v.getUint32(20), 2)
  assert.equal(v.getUint32(29), Png.crc32(png.subarray(12, 29)))
  assert.equal(Png.crc32(new TextEncoder().encode('123456789')), 0xcbf43926)
})

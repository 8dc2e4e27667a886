/**
 * Model cards: decoding with path-naming issues, and a class-conditional network (the MNIST net's layer types at
 * 8×8: Dense, Conv2D, pooling, upsampling, Add, Concatenate, swish, Reshape) loaded from a card as tfjs-layers and as
 * the ONNX graph scripts/onnx-export.ts writes from the same weights: both give the same ε̂ and the same samples
 * (classifier-free guided DPM-Solver++(2M)), one onnxruntime call per model call, no tensor leaks.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import test from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Card from '../src/interop/Card.ts'
import * as CardModel from '../src/interop/CardModel.ts'
import * as Program from '../src/run/Program.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TM from '../src/run/TfjsModel.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as OnnxRt from '../src/models/Onnx.ts'
import * as Onnx from '../scripts/onnx-export.ts'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-card-'))

const issues = (u: unknown): ReadonlyArray<string> => {
  const r = Card.decode(u, tmp)
  return E.isLeft(r) ? r.left.map((i) => `${i.path}: ${i.message}`) : []
}

const valid = {
  format: 'stepwise-model/v1',
  network: { file: 'net/model.json', format: 'tfjs-layers', inputs: { x: 'x', t: 'temb', label: 'label' }, timeEmbedding: { kind: 'sinusoidal', dim: 8 } },
  shape: [8, 8, 1],
  parameterization: 'eps',
  time: { discrete: 1000 },
  schedule: { name: 'linear', beta_0: 0.1, beta_1: 20 },
  conditioning: { classes: 3, null: 3, encoding: 'one-hot' },
  data: { range: [-1, 1] },
}

test('a card decodes; bad fields are issues at their path with the fix', () => {
  assert.deepEqual(issues(valid), [])
  const at = (u: unknown, p: string) => {
    const is = issues(u)
    assert.ok(
      is.some((i) => i.startsWith(`${p}:`)),
      `expected an issue at ${p}; got ${is.join(' | ')}`,
    )
  }
  at({ ...valid, format: 'stepwise-model/v2' }, 'format')
  at({ ...valid, network: { ...valid.network, format: 'pt' } }, 'network.format')
  at({ ...valid, parameterization: 'score' }, 'parameterization')
  at({ ...valid, shape: [] }, 'shape')
  at({ ...valid, conditioning: { classes: 3, null: 1 } }, 'conditioning.null')
  at({ ...valid, data: { range: [1, -1] } }, 'data.range')
  at({ ...valid, network: { ...valid.network, timeEmbedding: { kind: 'sinusoidal', dim: 7 } } }, 'network.timeEmbedding.dim')
  at({ ...valid, time: { timestep: 0 } }, 'time')
  at({ ...valid, extra: 1 }, 'extra')
  const missing = Card.read(path.join(tmp, 'nope.json'))
  assert.ok(E.isLeft(missing) && /cannot read the model card/.test(missing.left[0]!.message))
  fs.writeFileSync(path.join(tmp, 'nofile.json'), JSON.stringify(valid))
  const nofile = Card.read(path.join(tmp, 'nofile.json'))
  assert.ok(E.isLeft(nofile) && nofile.left[0]!.path === 'network.file' && /does not exist/.test(nofile.left[0]!.message))
})

/** a small conditional U-Net with the MNIST net's layer types, seeded random weights */
const network = (): tf.LayersModel => {
  const ap = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => l.apply(x) as tf.SymbolicTensor
  const x = tf.input({ shape: [64], name: 'x' })
  const temb = tf.input({ shape: [8], name: 'temb' })
  const label = tf.input({ shape: [4], name: 'label' })
  const tt = ap(tf.layers.dense({ units: 8, activation: 'swish' as never, name: 'td' }), temb)
  const cond = ap(tf.layers.activation({ activation: 'swish' as never, name: 'ca' }), ap(tf.layers.add({ name: 'cadd' }), [tt, ap(tf.layers.dense({ units: 8, useBias: false, name: 'ce' }), label)]))
  let h = ap(tf.layers.reshape({ targetShape: [8, 8, 1], name: 'img' }), x)
  h = ap(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c0' }), h)
  const s1 = h
  h = ap(tf.layers.averagePooling2d({ poolSize: 2, name: 'p0' }), h)
  h = ap(tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'c1' }), h)
  h = ap(tf.layers.add({ name: 'a1' }), [h, ap(tf.layers.reshape({ targetShape: [1, 1, 8], name: 'cr' }), ap(tf.layers.dense({ units: 8, name: 'cd' }), cond))])
  h = ap(tf.layers.activation({ activation: 'swish' as never, name: 'act1' }), h)
  h = ap(tf.layers.upSampling2d({ size: [2, 2], name: 'up' }), h)
  h = ap(tf.layers.concatenate({ name: 'cat' }), [h, s1])
  h = ap(tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', name: 'out_conv' }), h)
  const out = ap(tf.layers.reshape({ targetShape: [64], name: 'eps' }), h)
  const net = tf.model({ inputs: [x, temb, label], outputs: out })
  let seed = 1
  net.setWeights(net.getWeights().map((w) => tf.tidy(() => tf.randomNormal(w.shape, 0, 0.3, 'float32', seed++))))
  return net
}

test('tfjs-layers and its ONNX export from the same weights: same ε̂, same guided samples, no leaks', async () => {
  await Tfjs.init('wasm')
  const net = network()
  const dir = path.join(tmp, 'net')
  await net.save(TM.fileSaver(dir))
  net.dispose()
  fs.writeFileSync(path.join(tmp, 'net.onnx'), Onnx.fromFile(path.join(dir, 'model.json')))
  const cardTf = path.join(tmp, 'tfjs.json')
  const cardOnnx = path.join(tmp, 'onnx.json')
  fs.writeFileSync(cardTf, JSON.stringify(valid))
  fs.writeFileSync(cardOnnx, JSON.stringify({ ...valid, network: { ...valid.network, file: 'net.onnx', format: 'onnx' } }))
  const a = await CardModel.load(Card.readOrThrow(cardTf))
  const b = await CardModel.load(Card.readOrThrow(cardOnnx))
  const B = 6
  const xT = Float64Array.from({ length: B * 64 }, (_, i) => Math.sin(i * 0.37) * 1.3)
  const labels = [0, 1, 2, 0, 1, 2]
  // ε̂ at one point, every label
  const x = Tfjs.fromFloat64(xT, 64)
  const lab = tf.tensor2d(labels, [B, 1])
  const ns = Card.noiseSchedule(Card.readOrThrow(cardTf))
  const point = NS.point(ns)(0.4)
  const ea = a.conditional.call(x, point, lab)
  const eb = b.conditional.call(x, point, lab)
  const da = Float64Array.from(ea.dataSync())
  const db = Float64Array.from(eb.dataSync())
  const maxAbs = da.reduce((m, v, i) => Math.max(m, Math.abs(v - db[i]!)), 0)
  const scale = da.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  assert.ok(scale > 0.1 && maxAbs <= 1e-5 * (1 + scale), `ε̂ differ by ${maxAbs} (scale ${scale})`)
  tf.dispose([x, lab, ea, eb])
  // guided sampling on both: same samples; tensors flat
  const p = Program.compileOrThrow(ns, 'eps')(Solvers.byId('dpmpp-2m')!.build({ nfe: 8 }))
  const sample = (l: CardModel.Loaded) => {
    const m = l.model({ labels, w: 3 })
    const before = tf.memory().numTensors
    const x32 = Tfjs.fromFloat64(xT, 64)
    const r = Tfjs.run(p, m.model.call)(x32)
    const y = Tfjs.toFloat64(r.x)
    tf.dispose([x32, r.x])
    assert.equal(tf.memory().numTensors, before, 'tensors leaked')
    m.dispose()
    return y
  }
  const ya = sample(a)
  const runs0 = OnnxRt.runCount()
  const yb = sample(b)
  assert.equal(OnnxRt.runCount() - runs0, p.nfe, 'one batched onnxruntime run per model call (CFG batches [∅; c] into one call)')
  const d = ya.reduce((m, v, i) => Math.max(m, Math.abs(v - yb[i]!)), 0)
  assert.ok(
    ya.every((v) => Number.isFinite(v)),
    'non-finite sample',
  )
  const ys = ya.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  assert.ok(d <= 1e-4 * (1 + ys), `samples differ by ${d} (scale ${ys})`)
  a.dispose()
  b.dispose()
})

/**
 * The learned denoisers: the shipped weights load, fit in 2 MB, run the same in float64 and tfjs, and
 * sample their dataset's moments; training is reproducible from the seed; the documents round-trip
 * and bad ones are rejected with a path; the shipped EMS files decode and cover the schedule.
 */
import assert from 'node:assert/strict'
import { readdirSync, statSync } from 'node:fs'
import * as path from 'node:path'
import { after, before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as Gmm from '../src/core/Gmm.ts'
import * as _ from '../src/models/Learned.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as F from '../src/run/Float64.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TL from '../src/run/TfjsLearned.ts'
import * as Solvers from '../src/solvers/index.ts'

before(async () => {
  await Tfjs.init('wasm')
})
after(() => {
  tf.disposeVariables()
})

/** per-dimension means and the covariance matrix of a row-major batch */
const moments = (v: Float64Array, D: number) => {
  const n = v.length / D
  const mean = Array.from({ length: D }, (_, d) => {
    let s = 0
    for (let i = 0; i < n; i++) s += v[i * D + d]!
    return s / n
  })
  const cov = Array.from({ length: D }, (_, a) =>
    Array.from({ length: D }, (_, b) => {
      let s = 0
      for (let i = 0; i < n; i++) s += (v[i * D + a]! - mean[a]!) * (v[i * D + b]! - mean[b]!)
      return s / n
    }),
  )
  return { mean, cov }
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!))
  return m
}

test('the shipped model files fit in 2 MB and decode to their recipes', () => {
  const dir = path.join(import.meta.dirname, '..', 'models')
  const total = readdirSync(dir).reduce((a, f) => a + statSync(path.join(dir, f)).size, 0)
  assert.ok(total <= 2 * 1024 * 1024, `models/ holds ${total} bytes`)
  for (const name of _.shipped) {
    const l = _.load(name)
    const r = _.recipes[name]
    assert.deepEqual({ name: l.name, D: l.D, hidden: l.hidden, frequencies: l.frequencies, features: l.features, dataset: l.dataset }, { ...r.arch })
    assert.deepEqual({ seed: l.training.seed, steps: l.training.steps, batch: l.training.batch, lr: l.training.lr }, r.training)
    assert.ok(l.layers.every((y) => y.W.every(Number.isFinite) && y.b.every(Number.isFinite)))
  }
})

test('float64 and tfjs run the same network (float32 tolerance)', () => {
  const ns = NS.vpLinear()
  for (const name of _.shipped) {
    const l = _.load(name)
    const m = TL.model(l)
    const x = Gmm.normals(64 * l.D, 4).map(Math.fround)
    for (const t of [1, 0.5, 0.1, 0.01, 1e-3]) {
      const at = NS.point(ns)(t)
      const a = _.eps(l)(x, at)
      const xt = Tfjs.fromFloat64(x, l.D)
      const y = m(xt, at)
      const b = Tfjs.toFloat64(y)
      tf.dispose([xt, y])
      assert.ok(maxAbs(a, b) < 1e-4 * Math.max(1, maxAbs(a, new Float64Array(a.length))), `${name} t = ${t}: ${maxAbs(a, b)}`) // float32 forward: 1e-4 relative
    }
    m.dispose()
  }
})

test("sampling the shipped models (DPM-Solver++(3M), NFE 20, Float64) gives finite samples with the dataset's moments", () => {
  for (const name of _.shipped) {
    const l = _.load(name)
    const D = l.D
    const ns = _.scheduleOf(l)
    const xT = Gmm.normals(1000 * D, 17)
    const x = F.run(Prog.compileOrThrow(ns, 'eps')(Solvers.byId('dpmpp-3m')!.build({ nfe: 20 })), _.eps(l))(xT).x
    assert.ok(x.every(Number.isFinite))
    const got = moments(x, D)
    const want = moments(_.sample(l.dataset), D)
    assert.ok(maxAbs(got.mean, want.mean) < 0.1, `${name} means ${got.mean} vs ${want.mean}`) // 1000 samples: tolerance 0.1
    assert.ok(maxAbs(got.cov.flat(), want.cov.flat()) < 0.15, `${name} covariances differ by ${maxAbs(got.cov.flat(), want.cov.flat())}`) // tolerance 0.15
  }
})

test('training is reproducible from the seed (same seed: identical weights; another seed: different)', () => {
  const arch: _.Arch = { name: 'tiny', D: 2, hidden: [16, 16], frequencies: 2, features: 1, dataset: { kind: 'spiral', n: 256, seed: 1, arms: 2, noise: 0.05 } }
  const o = { seed: 5, steps: 12, batch: 32, lr: 3e-3 }
  const before = tf.memory().numTensors
  const a = TL.train(arch, o)
  const b = TL.train(arch, o)
  const c = TL.train(arch, { ...o, seed: 6 })
  assert.equal(tf.memory().numTensors, before, 'training leaked tensors')
  assert.deepEqual(_.encode(a), _.encode(b))
  assert.notDeepEqual(_.encode(a), _.encode(c))
  assert.notDeepEqual(a.layers[0]!.W, _.init(arch, o.seed)[0]!.W, 'the weights did not move')
})

test('datasets regenerate from their seeds; documents round-trip; bad documents name the path', () => {
  for (const name of _.shipped) {
    const d = _.recipes[name].arch.dataset
    assert.deepEqual(_.sample(d), _.sample(d))
    const l = _.load(name)
    assert.deepEqual(_.decode(JSON.parse(JSON.stringify(_.encode(l)))), l)
  }
  const doc = JSON.parse(JSON.stringify(_.encode(_.load('spiral2d'))))
  assert.throws(() => _.decode({ ...doc, hidden: [96, -1] }), /hidden\[1\]: got -1; expected a positive integer/)
  assert.throws(() => _.decode({ ...doc, colour: 1 }), /unknown key 'colour'/)
  assert.throws(() => _.decode({ ...doc, layers: doc.layers.slice(1) }), /layers\[0\]: expected/)
})

test('the shipped EMS files decode, are finite and cover the schedule the model was trained under', () => {
  for (const name of _.shipped) {
    const l = _.load(name)
    const e = _.loadEms(name)
    const ns = _.scheduleOf(l)
    assert.equal(e.D, l.D)
    assert.equal(e.schedule, ns.name)
    assert.ok(Math.abs(e.lambdaT - ns.lambda(ns.T)) < 1e-9 && Math.abs(e.lambda0 - ns.lambda(ns.t0)) < 1e-9)
    for (const v of [e.l, e.s, e.b]) assert.ok(v.every(Number.isFinite))
  }
  assert.throws(() => _.loadEms('nope'), /has no EMS file models\/nope\.ems\.json; compute it with: node --import tsx scripts\/ems\.ts --only nope/)
})

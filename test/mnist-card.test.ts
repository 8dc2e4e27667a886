/**
 * The shipped MNIST model card end to end: it decodes, its noise schedule is the one the network was trained under,
 * the committed ONNX export (scripts/mnist-card.ts) gives the same ε̂ as the tfjs-layers weights it was written from,
 * and the README's command `stepwise sample --model models/mnist/card.json … --png digits.png` writes a PNG grid; bad
 * cards and flags are clear errors with a non-zero exit.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import test from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Card from '../src/interop/Card.ts'
import * as CardModel from '../src/interop/CardModel.ts'
import * as Net from '../src/models/MnistNet.ts'
import * as Tfjs from '../src/run/Tfjs.ts'

const root = path.join(import.meta.dirname, '..')
const cardFile = path.join(root, 'models', 'mnist', 'card.json')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-mnist-'))
const cli = (args: ReadonlyArray<string>) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'bin', 'stepwise.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 })

test('the card decodes; its schedule is the training schedule (DDPM linear betas, N = 1000)', () => {
  const c = Card.readOrThrow(cardFile)
  const a = Card.noiseSchedule(c)
  const b = Net.schedule()
  for (const t of [1e-3, 0.01, 0.3, 0.77, 1]) {
    assert.ok(Math.abs(a.alpha(t) - b.alpha(t)) < 1e-12 && Math.abs(a.sigma(t) - b.sigma(t)) < 1e-12, `t = ${t}`)
  }
  assert.equal(Card.width(c), 784)
  assert.equal(Card.nullLabel(c), 10)
})

test('the committed ONNX export and the tfjs-layers weights give the same ε̂ (onnxruntime vs tfjs, float32)', async () => {
  await Tfjs.init('wasm')
  const c = Card.readOrThrow(cardFile)
  const a = await CardModel.load(c)
  const b = await CardModel.load({ ...c, network: { ...c.network, file: 'eps.onnx', format: 'onnx' } })
  const x = Tfjs.fromFloat64(CardModel.noiseRows(3, 8, 784), 784)
  const labels = tf.tensor2d([0, 1, 2, 3, 4, 5, 10, 9], [8, 1])
  for (const t of [0.05, 0.5, 0.95]) {
    const at = NS.point(Card.noiseSchedule(c))(t)
    const ea = a.conditional.call(x, at, labels)
    const eb = b.conditional.call(x, at, labels)
    const da = Float64Array.from(ea.dataSync())
    const db = Float64Array.from(eb.dataSync())
    const diff = da.reduce((m, v, i) => Math.max(m, Math.abs(v - db[i]!)), 0)
    const scale = da.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
    assert.ok(scale > 0.1 && diff <= 1e-4 * scale, `t = ${t}: max |Δε̂| = ${diff} (scale ${scale})`)
    tf.dispose([ea, eb])
  }
  tf.dispose([x, labels])
  a.dispose()
  b.dispose()
})

test('stepwise sample --model models/mnist/card.json --solver dpmpp-2m --nfe 10 --n 20 --png writes a PNG grid and rows', () => {
  const png = path.join(tmp, 'digits.png')
  const out = path.join(tmp, 'digits.json')
  const r = cli(['sample', '--model', 'models/mnist/card.json', '--solver', 'dpmpp-2m', '--nfe', '10', '--n', '20', '--png', png, '--out', out, '--guidance', '3'])
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /20 samples, NFE 10, guidance w = 3/)
  const bytes = fs.readFileSync(png)
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10])
  const j = JSON.parse(fs.readFileSync(out, 'utf8')) as { x0: number[][]; labels: number[]; nfe: number }
  assert.equal(j.x0.length, 20)
  assert.equal(j.x0[0]!.length, 784)
  assert.deepEqual(j.labels.slice(0, 11), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0])
  assert.ok(j.x0.flat().every((v) => Number.isFinite(v)))
})

test('bad cards and flags: clear errors, non-zero exit', () => {
  const bad = path.join(tmp, 'bad.json')
  const c = JSON.parse(fs.readFileSync(cardFile, 'utf8')) as Record<string, unknown>
  fs.writeFileSync(bad, JSON.stringify({ ...c, parameterization: 'score', network: { ...(c['network'] as object), file: 'nope/model.json' } }))
  const r1 = cli(['sample', '--model', bad, '--solver', 'ddim', '--nfe', '5', '--out', path.join(tmp, 'o.json')])
  assert.notEqual(r1.status, 0)
  assert.match(r1.stderr, /parameterization/)
  const r2 = cli(['sample', '--model', 'models/mnist/card.json', '--solver', 'ddim', '--nfe', '5', '--class', '12', '--out', path.join(tmp, 'o.json')])
  assert.equal(r2.status, 2)
  assert.match(r2.stderr, /--class: 12 is not a class of this model \(0 … 9\)/)
  const r3 = cli(['sample', '--model', 'models/mnist/card.json', '--solver', 'ddim', '--nfe', '5'])
  assert.equal(r3.status, 2)
  assert.match(r3.stderr, /--out OUT.json and\/or --png/)
  assert.ok(!/\n\s+at /.test(r1.stderr + r2.stderr + r3.stderr), 'no stack traces')
})

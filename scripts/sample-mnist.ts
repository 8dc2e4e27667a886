/**
 * Sample the trained class-conditional MNIST ε-network with a library solver and classifier-free
 * guidance, write a 10 × 10 grid (row k = class k) to models/mnist/samples.png, and measure the
 * classifier's accuracy on `--per-class` conditional samples per class at each guidance weight.
 *
 *   node --import tsx scripts/sample-mnist.ts [--solver dpmpp-2m] [--nfe 25] [--w 3] [--accuracy-w 1,3]
 *     [--per-class 100] [--seed 7] [--models models/mnist] [--out models/mnist/samples.png]
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { Gmm, Program, Solvers } from '../src/index.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as Classifier from '../src/models/MnistClassifier.ts'
import * as Net from '../src/models/MnistNet.ts'
import * as Png from '../src/models/Png.ts'

const arg = (k: string): string | undefined => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const dir = arg('models') ?? path.join(import.meta.dirname, '..', 'models', 'mnist')
const solver = arg('solver') ?? 'dpmpp-2m'
const nfe = Number(arg('nfe') ?? 25)
const wGrid = Number(arg('w') ?? 3)
const ws = (arg('accuracy-w') ?? '1,3')
  .split(',')
  .filter((s) => s !== '')
  .map(Number)
const perClass = Number(arg('per-class') ?? 100)
const seed = Number(arg('seed') ?? 7)
const out = arg('out') ?? path.join(dir, 'samples.png')

await Tfjs.init('wasm')
const net = await Net.load(path.join(dir, 'eps'))
const clf = ws.length > 0 ? await Classifier.load(path.join(dir, 'classifier')) : undefined
const named = Solvers.byId(solver)
if (named === undefined) throw new Error(`--solver ${solver}: unknown; see npx stepwise solvers`)
const program = Program.compileOrThrow(Net.schedule(), 'eps')(named.build({ nfe }))

/** x0 [n, 784] in [−1, 1] for the labels, from x_T drawn from (seed, offset) */
const sample = (labels: ReadonlyArray<number>, w: number, offset: number): Float32Array => {
  const m = Net.guided(net, labels, w)
  const xT = Tfjs.fromFloat64(Gmm.normals(labels.length * 784, seed + 1000 * offset), 784)
  const r = Tfjs.run(program, m.call)(xT)
  const x = Float32Array.from(r.x.dataSync())
  tf.dispose([xT, r.x])
  m.dispose()
  return x
}

const t0 = performance.now()
const gridLabels = Array.from({ length: 100 }, (_, i) => Math.floor(i / 10))
const g = sample(gridLabels, wGrid, 0)
const img = Png.grid(g, { rows: 10, cols: 10, side: 28, lo: -1, hi: 1, gap: 2, zoom: 2, background: 96 })
fs.writeFileSync(out, Png.grey(img.width, img.height, img.pixels))
console.log(`${solver} NFE ${nfe}, w = ${wGrid}: 10 × 10 grid (row k = class k) → ${out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)

const accuracy: Record<string, { readonly accuracy: number; readonly perClass: ReadonlyArray<number> }> = {}
for (const w of ws) {
  const t1 = performance.now()
  const labels = Array.from({ length: 10 * perClass }, (_, i) => i % 10)
  const chunk = 200
  const preds: number[] = []
  for (let i = 0; i < labels.length; i += chunk) {
    const part = labels.slice(i, i + chunk)
    const x = sample(part, w, 1 + i / chunk)
    const xt = tf.tensor2d(x, [part.length, 784])
    const clipped = tf.clipByValue(xt, -1, 1) as tf.Tensor2D
    preds.push(...Classifier.classify(clf!, clipped))
    clipped.dispose()
    xt.dispose()
  }
  const hits = Array.from({ length: 10 }, () => 0)
  preds.forEach((p, i) => {
    if (p === labels[i]) hits[labels[i]!]!++
  })
  const acc = hits.reduce((a, b) => a + b, 0) / labels.length
  accuracy[`w=${w}`] = { accuracy: acc, perClass: hits.map((h) => h / perClass) }
  console.log(
    `w = ${w}: classifier accuracy on ${labels.length} conditional samples ${(100 * acc).toFixed(1)} % (per class ${hits.map((h) => ((100 * h) / perClass).toFixed(0)).join(' ')}) (${((performance.now() - t1) / 1000).toFixed(0)} s)`,
  )
}
const report = path.join(dir, 'samples.json')
fs.writeFileSync(report, `${JSON.stringify({ solver, nfe, gridW: wGrid, seed, perClass, accuracy, tensors: tf.memory().numTensors }, null, 1)}\n`)
console.log(`→ ${report}`)

/**
 * Speed on a real network (the trained MNIST U-Net): per model call, the network alone vs a whole solver step
 * (DPM-Solver++(2M), NFE 10: network + stepwise's combines, checks and bookkeeping), so the solver's share of the
 * step is (step − network)/step; tfjs-wasm vs onnxruntime-node for the same weights; batch-size scaling. All
 * measured side by side in one run, interleaved, median of repeats.
 *
 *   node --import tsx bench/mnist-speed.ts [--batches 1,16,64,256] [--repeats 5]
 */
import * as path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Card from '../src/interop/Card.ts'
import * as CardModel from '../src/interop/CardModel.ts'
import * as Prog from '../src/run/Program.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as Solvers from '../src/solvers/index.ts'

const arg = (k: string): string | undefined => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const batches = (arg('batches') ?? '1,16,64,256').split(',').map(Number)
const repeats = Number(arg('repeats') ?? 5)
const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

await Tfjs.init('wasm')
const dir = path.join(import.meta.dirname, '..', 'models', 'mnist')
const card = Card.readOrThrow(path.join(dir, 'card.json'))
const tfjs = await CardModel.load(card)
const onnx = await CardModel.load({ ...card, network: { ...card.network, file: 'eps.onnx', format: 'onnx' } })
const ns = Card.noiseSchedule(card)
const nfe = 10
const p = Prog.compileOrThrow(ns, 'eps')(Solvers.byId('dpmpp-2m')!.build({ nfe }))
const at = NS.point(ns)(0.5)

/** ms per network call at batch B: `nfe` chained calls (each output the next input, as in a run), read back once */
const netMs = (l: CardModel.Loaded, B: number): number => {
  const x0 = Tfjs.fromFloat64(CardModel.noiseRows(1, B, l.D), l.D)
  const c = tf.tensor2d(
    Float32Array.from({ length: B }, (_, i) => i % 10),
    [B, 1],
  )
  const t0 = performance.now()
  let x = x0
  for (let k = 0; k < nfe; k++) {
    const y = l.conditional.call(x, at, c)
    if (x !== x0) x.dispose()
    x = y
  }
  x.dataSync()
  const ms = (performance.now() - t0) / nfe
  tf.dispose([x0, c, x])
  return ms
}

/** ms per step of a whole DPM-Solver++(2M) run at batch B */
const stepMs = (l: CardModel.Loaded, B: number): number => {
  const xT = CardModel.noiseRows(2, B, l.D)
  const labels = Array.from({ length: B }, (_, i) => i % 10)
  const t0 = performance.now()
  CardModel.sample(l, p, xT, { labels, batch: B })
  return (performance.now() - t0) / nfe
}

console.log(`MNIST U-Net (${card.name}), DPM-Solver++(2M) NFE ${nfe}, wasm backend; median of ${repeats} interleaved repeats`)
console.log('| batch | tfjs net ms/call | tfjs step ms | solver share | onnxruntime net ms/call | onnx step ms | onnx ÷ tfjs (net) |')
console.log('|---|---|---|---|---|---|---|')
for (const B of batches) {
  const a: number[] = []
  const s: number[] = []
  const o: number[] = []
  const os: number[] = []
  netMs(tfjs, B)
  netMs(onnx, B)
  for (let r = 0; r < repeats; r++) {
    a.push(netMs(tfjs, B))
    s.push(stepMs(tfjs, B))
    o.push(netMs(onnx, B))
    os.push(stepMs(onnx, B))
  }
  const [na, sa, no, so] = [median(a), median(s), median(o), median(os)]
  console.log(`| ${B} | ${na.toFixed(2)} | ${sa.toFixed(2)} | ${((100 * (sa - na)) / sa).toFixed(1)} % | ${no.toFixed(2)} | ${so.toFixed(2)} | ${(no / na).toFixed(2)} |`)
}
tfjs.dispose()
onnx.dispose()

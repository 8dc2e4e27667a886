/**
 * The seeds' table on the trained MNIST model (models/mnist/card.json): FID (classifier features vs the held-out
 * test digits), class accuracy and the RMS distance to the teacher, for named solvers × NFE × guidance weight, side
 * by side in one run. Samples: labels cycle 0…9, x_T keyed by (seed, sample index), the same x_T for every solver.
 *
 *   node --import tsx bench/mnist.ts [--n 2000] [--nfe 4,5,6,8,10,15,20] [--w 1,3,7.5] [--solvers a,b] [--schedule S.json]
 *                                    [--teacher-rows 64] [--out bench/mnist.json]
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as Card from '../src/interop/Card.ts'
import * as CardMetrics from '../src/interop/CardMetrics.ts'
import * as CardModel from '../src/interop/CardModel.ts'
import * as Teacher from '../src/interop/Teacher.ts'
import * as Prog from '../src/run/Program.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as Codec from '../src/schedule/Codec.ts'
import type * as S from '../src/schedule/SolverSchedule.ts'
import * as Solvers from '../src/solvers/index.ts'
import type { Row } from './mnist-table.ts'

const arg = (k: string): string | undefined => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const list = (k: string, d: string): ReadonlyArray<string> => (arg(k) ?? d).split(',')

const n = Number(arg('n') ?? 2000)
const nfes = list('nfe', '4,5,6,8,10,15,20').map(Number)
const ws = list('w', '1').map(Number)
const ids = list('solvers', 'ddim,dpmpp-2m,dpmpp-3m,dpmpp-3m-ref,unipc-bh2-2,deis-tab3,ipndm,plms,ghvb,hb,time-shift-dpmpp-2m')
const teacherRows = Number(arg('teacher-rows') ?? 64)
const out = arg('out') ?? path.join(import.meta.dirname, 'mnist.json')
const searched = arg('schedule')

await Tfjs.init('wasm')
const card = Card.readOrThrow(path.join(import.meta.dirname, '..', 'models', 'mnist', 'card.json'))
const l = await CardModel.load(card)
const cl = await CardMetrics.classifier(card)
const ns = Card.noiseSchedule(card)
const xT = CardModel.noiseRows(0, n, l.D)
const labels = Array.from({ length: n }, (_, i) => i % 10)
const txT = xT.subarray(0, teacherRows * l.D)
const tLabels = labels.slice(0, teacherRows)

const schedules = (nfe: number): ReadonlyArray<readonly [string, S.SolverSchedule]> => [
  ...ids.flatMap((id): ReadonlyArray<readonly [string, S.SolverSchedule]> => {
    const named = Solvers.byId(id)
    if (named === undefined) throw new Error(`unknown solver ${id}`)
    try {
      const s = named.build({ nfe })
      return Prog.compileOrThrow(ns, 'eps')(s).nfe === nfe ? [[id, s]] : []
    } catch {
      return []
    }
  }),
  ...(searched === undefined
    ? []
    : (() => {
        const d = Codec.decode(JSON.parse(fs.readFileSync(searched, 'utf8')))
        if (E.isLeft(d)) throw new Error(Codec.format(d.left))
        return Prog.compileOrThrow(ns, 'eps')(d.right).nfe === nfe ? [['searched', d.right] as const] : []
      })()),
]

const rows: Row[] = []
const started = performance.now()
// the floor at this n: FID of n real training digits against the test statistics (same features, same n)
{
  const { load, toSigned } = await import('../src/models/MnistData.ts')
  const train = load().train
  // the package's digits are grouped by class: take n evenly strided rows (every class, in proportion)
  const step = Math.floor(train.n / n)
  const idx = Array.from({ length: n }, (_, i) => i * step)
  const real = new Float64Array(n * 784)
  idx.forEach((r, i) => real.set(toSigned(train.images.subarray(r * 784, (r + 1) * 784)), i * 784))
  const r = CardMetrics.evaluate(
    card,
    cl,
    real,
    idx.map((i) => train.labels[i]!),
  )
  console.log(`floor: ${n} real training digits vs the test statistics: FID ${r.fid!.toFixed(2)}, classifier accuracy ${(100 * r.accuracy!).toFixed(1)} %`)
}
for (const w of ws) {
  const teacher = Teacher.teacher(l, txT, { labels: tLabels, w, steps: 200 })
  console.log(`w = ${w}: teacher (DPM-Solver++(3M), 200 steps, ${teacherRows} rows${teacher.cached ? ', cached' : ''}) estimated RMS error ${teacher.errorEstimate.toExponential(2)}`)
  for (const nfe of nfes)
    for (const [id, s] of schedules(nfe)) {
      const t0 = performance.now()
      let x: Float64Array
      try {
        x = CardModel.sample(l, Prog.compileOrThrow(ns, 'eps')(s), xT, { labels, w })
      } catch (e) {
        console.log(`  ${id} NFE ${nfe}: failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`)
        rows.push({ w, solver: id, nfe, fid: Number.POSITIVE_INFINITY, accuracy: 0, teacherRms: Number.POSITIVE_INFINITY, seconds: 0 })
        continue
      }
      const r = CardMetrics.evaluate(card, cl, x, labels)
      const rms = Teacher.distance(x.subarray(0, teacherRows * l.D), teacher.x0)
      const seconds = (performance.now() - t0) / 1000
      rows.push({ w, solver: id, nfe, fid: r.fid!, accuracy: r.accuracy!, teacherRms: rms, seconds })
      console.log(
        `  ${id.padEnd(22)} NFE ${String(nfe).padStart(2)}  FID ${r.fid!.toFixed(2).padStart(7)}  acc ${(100 * r.accuracy!).toFixed(1).padStart(5)} %  teacher RMS ${rms.toExponential(2)}  (${seconds.toFixed(0)} s)`,
      )
      fs.writeFileSync(`${out}.tmp`, JSON.stringify({ n, card: Card.fingerprint(card), rows }, null, 1))
      fs.renameSync(`${out}.tmp`, out)
    }
}
console.log(`\n${n} samples per cell, ${((performance.now() - started) / 60000).toFixed(1)} min; FID (teacher RMS) per solver and NFE`)
for (const w of ws) {
  console.log(`\nw = ${w}\n| solver | ${nfes.map((k) => `NFE ${k}`).join(' | ')} |\n|---|${nfes.map(() => '---').join('|')}|`)
  const solvers = [...new Set(rows.filter((r) => r.w === w).map((r) => r.solver))]
  for (const id of solvers)
    console.log(
      `| ${id} | ${nfes
        .map((k) => {
          const r = rows.find((x) => x.w === w && x.solver === id && x.nfe === k)
          return r === undefined ? '–' : Number.isFinite(r.fid) ? `${r.fid.toFixed(2)} (${r.teacherRms.toExponential(1)})` : 'fails'
        })
        .join(' | ')} |`,
    )
}
cl.dispose()
l.dispose()

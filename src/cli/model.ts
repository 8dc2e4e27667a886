/**
 * The CLI on a user's trained network (`--model CARD`): `sample` (rows of x_0, a PNG grid of images), `compare` (named
 * solvers × NFE against the teacher, optionally FID), `fid` (FID / accuracy of many samples with a progress bar),
 * `explain` (a schedule against the card's noise schedule). Schedules come from the same `--schedule` / `--solver`
 * flags as the problem path (passed in by main).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { SingleBar } from 'cli-progress'
import * as Card from '../interop/Card.ts'
import * as CardMetrics from '../interop/CardMetrics.ts'
import * as CardModel from '../interop/CardModel.ts'
import * as Teacher from '../interop/Teacher.ts'
import * as Png from '../models/Png.ts'
import * as Prog from '../run/Program.ts'
import * as Tfjs from '../run/Tfjs.ts'
import type * as S from '../schedule/SolverSchedule.ts'
import * as Solvers from '../solvers/index.ts'
import * as IO from './io.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** how main builds a schedule from --schedule / --solver --nfe --grid --set */
export type ScheduleOf = (a: IO.Args) => S.SolverSchedule

/** the flags every model command reads */
export const FLAGS = ['model', 'n', 'labels', 'class', 'guidance', 'seed', 'batch', 'backend', 'xT'] as const

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** a progress bar on stderr (only on a terminal: pipes and CI logs get one line at the end) */
const bar = (label: string): { readonly update: (done: number, total: number) => void; readonly stop: () => void } => {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} }
  const b = new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} rows | eta {eta_formatted}`, stream: process.stderr, hideCursor: true })
  let started = false
  return {
    update: (done, total) => {
      if (!started) {
        b.start(total, 0)
        started = true
      }
      b.setTotal(total)
      b.update(done)
    },
    stop: () => {
      if (started) b.stop()
    },
  }
}

/** the loaded card with its backend ready */
const open = async (a: IO.Args): Promise<CardModel.Loaded> => {
  const c = Card.read(IO.need(a, 'model'))
  if (c._tag === 'Left') throw new Error(`${IO.need(a, 'model')}: not a valid model card\n${c.left.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`)
  const backend = IO.get(a, 'backend') ?? 'wasm'
  if (backend !== 'wasm' && backend !== 'cpu') throw IO.usage(`--backend: expected wasm or cpu in Node; got '${backend}'`)
  await Tfjs.init(backend)
  return CardModel.load(c.right)
}

/** labels for n rows: --labels a,b,c (cycled), --class k (all), default 0, 1, …, classes − 1 cycled; none for an unconditional card */
const labelsOf = (a: IO.Args, c: Card.Card, n: number): ReadonlyArray<number> | undefined => {
  const k = c.conditioning?.classes
  const list = IO.get(a, 'labels')
  const one = IO.get(a, 'class')
  if (k === undefined) {
    if (list !== undefined || one !== undefined) throw IO.usage('--labels / --class: this model is unconditional (its card has no "conditioning")')
    return undefined
  }
  const check = (v: number, flag: string) => {
    if (!Number.isInteger(v) || v < 0 || v >= k) throw IO.usage(`${flag}: ${v} is not a class of this model (0 … ${k - 1})`)
    return v
  }
  if (one !== undefined) return Array.from({ length: n }, () => check(Number(one), '--class'))
  const base = list === undefined ? Array.from({ length: k }, (_, i) => i) : list.split(',').map((s) => check(Number(s), '--labels'))
  return Array.from({ length: n }, (_, i) => base[i % base.length]!)
}

/** x_T: --xT X.json ({"data": rows}) or normals keyed by (seed, sample index) */
const xTOf = (a: IO.Args, D: number, n: number, seed: number): Float64Array => {
  const file = IO.get(a, 'xT')
  if (file === undefined) return CardModel.noiseRows(seed, n, D)
  const u = IO.readJson(file)
  const data = typeof u === 'object' && u !== null && 'data' in u ? (u as { data: unknown }).data : u
  if (!Array.isArray(data) || data.length === 0 || !data.every((r) => Array.isArray(r) && r.length === D && r.every((v) => typeof v === 'number' && Number.isFinite(v))))
    throw new Error(`${file}: expected {"data": number[][]}: non-empty rows of D = ${D} finite numbers (the card's shape flattened)`)
  return Float64Array.from((data as number[][]).flat())
}

const guidanceOf = (a: IO.Args, c: Card.Card): number | undefined => {
  const w = IO.get(a, 'guidance')
  if (w === undefined) return undefined
  if (c.conditioning === undefined) throw IO.usage('--guidance: classifier-free guidance needs a conditional model (the card has no "conditioning")')
  const v = Number(w)
  if (!Number.isFinite(v) || v < 0) throw IO.usage(`--guidance: expected a number ≥ 0; got '${w}'`)
  return v
}

/** a grid of samples as a PNG (images of the card's shape, data range mapped to 0 … 255) */
const writePng = (file: string, c: Card.Card, x: Float64Array, n: number): void => {
  const [h, w] = c.shape
  if (c.shape.length < 2 || h !== w || (c.shape[2] ?? 1) !== 1) throw new Error(`--png: needs square single-channel images; the card's shape is ${JSON.stringify(c.shape)}`)
  const [lo, hi] = c.data?.range ?? [-1, 1]
  const cols = Math.min(n, c.conditioning?.classes ?? Math.ceil(Math.sqrt(n)))
  const rows = Math.ceil(n / cols)
  // column-major by class: row r holds samples r·cols … r·cols + cols − 1 (labels cycle with the column)
  const g = Png.grid(x, { rows, cols, side: h!, lo, hi, zoom: 2 })
  const tmp = `${file}.tmp-${process.pid}`
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true })
  fs.writeFileSync(tmp, Png.grey(g.width, g.height, g.pixels))
  fs.renameSync(tmp, file)
}

// -------------------------------------------------------------------------------------------------
// commands
// -------------------------------------------------------------------------------------------------

/** `stepwise sample --model CARD (--schedule S.json | --solver ID --nfe N) [--n 64] [--labels …] [--guidance w] [--out OUT.json] [--png P.png]` */
export const sample = async (a: IO.Args, scheduleOf: ScheduleOf): Promise<number> => {
  const out = IO.get(a, 'out')
  const png = IO.get(a, 'png')
  if (out === undefined && png === undefined) throw IO.usage('give --out OUT.json and/or --png GRID.png')
  const l = await open(a)
  try {
    const c = l.card
    const n = IO.int(a, 'n', 64)
    if (n < 1) throw IO.usage(`--n: expected a positive integer; got ${n}`)
    const seed = IO.int(a, 'seed', 0)
    const xT = xTOf(a, l.D, n, seed)
    const rows = xT.length / l.D
    const labels = labelsOf(a, c, rows)
    const w = guidanceOf(a, c)
    const p = Prog.compileOrThrow(Card.noiseSchedule(c), c.parameterization)(scheduleOf(a))
    const b = bar('sample')
    const t0 = performance.now()
    const x = CardModel.sample(l, p, xT, { ...(labels === undefined ? {} : { labels }), ...(w === undefined ? {} : { w }), seed, batch: IO.int(a, 'batch', 256), progress: b.update })
    b.stop()
    const secs = (performance.now() - t0) / 1000
    if (out !== undefined) {
      const data = Array.from({ length: rows }, (_, i) => Array.from(x.subarray(i * l.D, (i + 1) * l.D)))
      IO.writeAtomic(out, JSON.stringify({ x0: data, nfe: p.nfe, ...(labels === undefined ? {} : { labels }) }))
    }
    if (png !== undefined) writePng(png, c, x, rows)
    console.log(
      `${rows} samples, NFE ${p.nfe}${w === undefined ? '' : `, guidance w = ${w}`}, ${secs.toFixed(1)} s${out === undefined ? '' : `; wrote ${out}`}${png === undefined ? '' : `; wrote ${png}`}`,
    )
    return 0
  } finally {
    l.dispose()
  }
}

/** `stepwise fid --model CARD (--schedule S.json | --solver ID --nfe N) [--n 5000] [--guidance w] [--out R.json]` */
export const fid = async (a: IO.Args, scheduleOf: ScheduleOf): Promise<number> => {
  const l = await open(a)
  const cl = await CardMetrics.classifier(l.card)
  try {
    const c = l.card
    if (c.reference === undefined) throw new Error('this card has no "reference" (FID statistics of held-out real data); add one')
    const n = IO.int(a, 'n', 5000)
    const seed = IO.int(a, 'seed', 0)
    const labels = labelsOf(a, c, n)
    const w = guidanceOf(a, c)
    const p = Prog.compileOrThrow(Card.noiseSchedule(c), c.parameterization)(scheduleOf(a))
    const b = bar('fid')
    const t0 = performance.now()
    const x = CardModel.sample(l, p, CardModel.noiseRows(seed, n, l.D), {
      ...(labels === undefined ? {} : { labels }),
      ...(w === undefined ? {} : { w }),
      seed,
      batch: IO.int(a, 'batch', 256),
      progress: b.update,
    })
    b.stop()
    const r = CardMetrics.evaluate(c, cl, x, labels)
    const secs = (performance.now() - t0) / 1000
    console.log(
      `FID ${r.fid!.toFixed(3)}${r.accuracy === undefined ? '' : `, accuracy ${(100 * r.accuracy).toFixed(1)} %`} (${n} samples, NFE ${p.nfe}${w === undefined ? '' : `, w = ${w}`}, ${secs.toFixed(0)} s)`,
    )
    const out = IO.get(a, 'out')
    if (out !== undefined) IO.writeAtomic(out, JSON.stringify({ fid: r.fid, accuracy: r.accuracy ?? null, n, nfe: p.nfe, w: w ?? 1, seed }, null, 2))
    return 0
  } finally {
    cl.dispose()
    l.dispose()
  }
}

/** `stepwise compare --model CARD [--solvers a,b] [--nfe 5,10,20] [--n 64] [--guidance w] [--teacher-steps 200] [--out R.json]` */
export const compare = async (a: IO.Args): Promise<number> => {
  const l = await open(a)
  try {
    const c = l.card
    const n = IO.int(a, 'n', 64)
    const seed = IO.int(a, 'seed', 0)
    const xT = CardModel.noiseRows(seed, n, l.D)
    const labels = labelsOf(a, c, n)
    const w = guidanceOf(a, c)
    const o = { ...(labels === undefined ? {} : { labels }), ...(w === undefined ? {} : { w }), seed, batch: IO.int(a, 'batch', 256) }
    const ids = (IO.get(a, 'solvers') ?? 'ddim,dpmpp-2m,dpmpp-3m,unipc-bh2-2,deis-tab3,ipndm').split(',')
    const nfes = (IO.get(a, 'nfe') ?? '5,10,20').split(',').map(Number)
    const unknown = ids.filter((id) => Solvers.byId(id) === undefined)
    if (unknown.length > 0) throw IO.usage(`--solvers: unknown ${unknown.join(', ')}; see 'stepwise solvers'`)
    if (nfes.some((k) => !Number.isInteger(k) || k < 1)) throw IO.usage(`--nfe: expected positive integers; got ${IO.get(a, 'nfe')}`)
    const b = bar('teacher')
    const teacher = Teacher.teacher(l, xT, { ...o, steps: IO.int(a, 'teacher-steps', 200), progress: b.update })
    b.stop()
    console.log(`teacher: DPM-Solver++(3M) ${teacher.steps} steps${teacher.cached ? ' (cached)' : ''}, estimated RMS error ${teacher.errorEstimate.toExponential(2)}`)
    const ns = Card.noiseSchedule(c)
    const table: Array<{ solver: string; nfe: number; rms: number }> = []
    console.log(`${'solver'.padEnd(14)} ${nfes.map((k) => `NFE ${k}`.padStart(10)).join(' ')}   (RMS distance to the teacher per value)`)
    for (const id of ids) {
      const cells: string[] = []
      for (const k of nfes) {
        const s = Solvers.byId(id)!.build({ nfe: k })
        const x = CardModel.sample(l, Prog.compileOrThrow(ns, c.parameterization)(s), xT, o)
        const r = Teacher.distance(x, teacher.x0)
        table.push({ solver: id, nfe: k, rms: r })
        cells.push(r.toExponential(2).padStart(10))
      }
      console.log(`${id.padEnd(14)} ${cells.join(' ')}`)
    }
    const out = IO.get(a, 'out')
    if (out !== undefined) IO.writeAtomic(out, JSON.stringify({ teacher: { steps: teacher.steps, errorEstimate: teacher.errorEstimate }, n, w: w ?? 1, rows: table }, null, 2))
    return 0
  } finally {
    l.dispose()
  }
}

/**
 * The teacher of a learned model: a high-accuracy solve of the same network from the same x_T (exact DPM-Solver++(3M)
 * on a logSNR grid of `steps` steps), with its own error estimate (Richardson: the same solve at steps/2 differs by
 * about (2³ − 1)·err for a third-order method, so err ≈ ‖x_N − x_{N/2}‖ / 7), cached on disk under a content hash of
 * the model (card fingerprint), the teacher's settings, x_T, the labels and the guidance weight.
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { writeAtomic } from '../core/Files.ts'
import * as Program from '../run/Program.ts'
import * as Dpm from '../solvers/Dpm.ts'
import * as Card from './Card.ts'
import * as CardModel from './CardModel.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a teacher solve: x_0 rows, the error estimate (RMS per value of x_N − x_{N/2}, over 7) and its settings */
export interface Teacher {
  readonly x0: Float64Array
  /** RMS per value of (x_N − x_{N/2})/7: the estimated RMS error of x_0 */
  readonly errorEstimate: number
  readonly steps: number
  readonly key: string
  readonly cached: boolean
}

/** teacher settings */
export interface Options extends CardModel.SampleOptions {
  /** steps of the teacher solve (default 200; the estimate runs steps/2 more) */
  readonly steps?: number
  /** the cache folder (default $XDG_CACHE_HOME/stepwise/teacher or ~/.cache/stepwise/teacher); null: no cache */
  readonly cache?: string | null
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** the default cache folder */
export const defaultCache = (): string => path.join(process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache'), 'stepwise', 'teacher')

const rms = (a: Float64Array, b: Float64Array): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return Math.sqrt(s / a.length)
}

/** the content key: model fingerprint, teacher settings, x_T bytes, labels, guidance */
export const keyOf = (fingerprint: string, steps: number, xT: Float64Array, o: CardModel.SampleOptions): string => {
  const h = createHash('sha256')
  h.update(JSON.stringify({ fingerprint, steps, solver: 'dpmpp-3m/logSNR', labels: o.labels ?? null, w: o.w ?? 1, seed: o.seed ?? 0, rowOffset: o.rowOffset ?? 0 }))
  h.update(new Uint8Array(xT.buffer, xT.byteOffset, xT.byteLength))
  return h.digest('hex').slice(0, 32)
}

const solve = (l: CardModel.Loaded, steps: number, xT: Float64Array, o: CardModel.SampleOptions): Float64Array => {
  const p = Program.compileOrThrow(Card.noiseSchedule(l.card), l.card.parameterization)(Dpm.multistep({ nfe: steps, grid: 'logSNR', prediction: 'data', order: 3, parity: 'exact' }))
  return CardModel.sample(l, p, xT, o)
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the teacher for x_T (row-major): from the cache when its key is there, else solved (and cached) */
export const teacher = (l: CardModel.Loaded, xT: Float64Array, o: Options = {}): Teacher => {
  const steps = o.steps ?? 200
  if (!Number.isInteger(steps) || steps < 4) throw new Error(`teacher steps: expected an integer ≥ 4; got ${steps}`)
  const key = keyOf(Card.fingerprint(l.card), steps, xT, o)
  const dir = o.cache === undefined ? defaultCache() : o.cache
  const file = dir === null ? undefined : path.join(dir, `${key}.json`)
  if (file !== undefined && fs.existsSync(file)) {
    try {
      const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { x0: ReadonlyArray<number>; errorEstimate: number; steps: number }
      if (j.x0.length === xT.length && j.steps === steps) return { x0: Float64Array.from(j.x0), errorEstimate: j.errorEstimate, steps, key, cached: true }
    } catch {
      // a damaged cache entry is solved again (and rewritten)
    }
  }
  const total = xT.length / l.D
  const progress = o.progress
  const fine = solve(l, steps, xT, { ...o, ...(progress === undefined ? {} : { progress: (d: number) => progress(d, 3 * total) }) })
  const coarse = solve(l, Math.floor(steps / 2), xT, { ...o, ...(progress === undefined ? {} : { progress: (d: number) => progress(2 * total + d, 3 * total) }) })
  const errorEstimate = rms(fine, coarse) / 7
  if (file !== undefined) {
    fs.mkdirSync(dir!, { recursive: true })
    writeAtomic(file, JSON.stringify({ key, steps, errorEstimate, x0: Array.from(fine) }))
  }
  return { x0: fine, errorEstimate, steps, key, cached: false }
}

/** RMS per value of a − b (the teacher distance of a sample set) */
export const distance = rms

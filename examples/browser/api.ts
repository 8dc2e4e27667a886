/**
 * The page's test API, `window.stepwiseTest`: what `test/browser/browser.test.ts` drives through
 * playwright. Requests and reports are plain JSON (they cross `page.evaluate`); schedules cross as
 * documents and are decoded here with the codec, so the page runs exactly the data Node compiled.
 */
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import * as Codec from '../../src/schedule/Codec.ts'
import type * as Gmm from '../../src/core/Gmm.ts'
import * as Prog from '../../src/run/Program.ts'
import * as Tfjs from '../../src/run/Tfjs.ts'
import * as TfjsGmm from '../../src/run/TfjsGmm.ts'
import { ns, safeOptions } from './demo.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a run: a schedule document (compiled on `demo.ns`, eps model), a mixture and row-major x_T */
export interface RunRequest {
  readonly schedule: unknown
  readonly gmm: Gmm.Gmm
  readonly xT: ReadonlyArray<number>
  readonly lincomb?: Tfjs.Variant
  /** run it a second time under tf.profile to list the kernels (default false) */
  readonly profile?: boolean
}

/** what a run did */
export interface RunReport {
  readonly backend: string
  readonly variant: Tfjs.Variant
  /** the result, row-major */
  readonly x: ReadonlyArray<number>
  readonly nfe: number
  readonly historyDepth: number
  /** numTensors above the pre-run count after each instruction (x_T and the model's constants included in the baseline) */
  readonly tensors: ReadonlyArray<number>
  /** the step of each instruction (−1 for drops) */
  readonly steps: ReadonlyArray<number>
  /** numTensors above baseline once the run returned (its result only: 1) */
  readonly after: number
  /** numTensors above the count before the request once everything is disposed (0) */
  readonly leaked: number
  /** distinct kernel names of the same run under tf.profile ([] unless asked) */
  readonly kernels: ReadonlyArray<string>
}

/** one law case: n terms of one [rows, cols] shape */
export interface LincombCase {
  readonly shape: readonly [number, number]
  readonly cs: ReadonlyArray<number>
  readonly vs: ReadonlyArray<ReadonlyArray<number>>
  /** webgl: run with WEBGL_PACK set to this (packed vec4 or unpacked float shaders), then restore it */
  readonly pack?: boolean
}

/** the case computed by both variants, and the kernels each ran */
export interface LincombReport {
  readonly fused: ReadonlyArray<number>
  readonly addN: ReadonlyArray<number>
  readonly fusedKernels: ReadonlyArray<string>
  readonly addNKernels: ReadonlyArray<string>
}

/** a benchmark: a schedule's program on a [rows, cols] batch whose model is tf.clone of a fixed ε (no compute) */
export interface BenchRequest {
  readonly schedule: unknown
  readonly rows: number
  readonly cols: number
  readonly reps: number
  /** the variants compared, their repetitions interleaved */
  readonly lincombs: ReadonlyArray<Tfjs.Variant>
}

/** per variant and repetition: ms per step (the run, then one readback of the result that waits for the GPU), and the kernels of one run */
export interface BenchReport {
  readonly backend: string
  readonly steps: number
  readonly combines: number
  readonly msPerStep: Readonly<Record<string, ReadonlyArray<number>>>
  /** ms of one readback of a fresh [rows, cols] result alone (median; included above, not subtracted) */
  readonly readbackMs: number
  /** tfjs kernel calls of one run, by variant and kernel name */
  readonly kernels: Readonly<Record<string, Readonly<Record<string, number>>>>
}

/** the active backend as the page shows it */
export interface Status {
  readonly backend: string
  readonly variant: Tfjs.Variant
  readonly renderer: string
  readonly failed: ReadonlyArray<{ readonly backend: string; readonly error: string }>
}

/** pixel statistics of the samples canvas */
export interface CanvasStats {
  readonly width: number
  readonly height: number
  readonly distinct: number
  readonly foreground: number
}

/** the latest MNIST run on the page, once it finished */
export interface MnistReport {
  readonly backend: string
  /** the solver id (or the custom document's name) */
  readonly solver: string
  readonly nfe: number
  readonly steps: number
  /** the frames drawn: x_T and one per step */
  readonly frames: number
  readonly complete: boolean
  /** the page's controls */
  readonly classChoice: string
  readonly w: number
  readonly seed: number
  readonly digits: number
  readonly ms: number
  /** numTensors above the pre-run count after each frame (x_T first), and once the run released everything (0) */
  readonly tensors: ReadonlyArray<number>
  readonly leaked: number
  /** tf.memory().numTensors once the run is over (the network's weights included) */
  readonly numTensors: number
  /** the final x: fraction of pixels ≤ −0.5 (background) and ≥ 0.5 (ink), min and max */
  readonly background: number
  readonly ink: number
  readonly min: number
  readonly max: number
  /** the first digit of the final x (784 values; the same seed draws the same x_T for it whatever the grid's size) */
  readonly first: ReadonlyArray<number>
  /** the step counter under the canvas */
  readonly counter: string
  /** where the network came from (mnist/info.json) */
  readonly source: string
}

/** window.stepwiseTest */
export interface Api {
  /** resolves once a backend is active and the first run is drawn */
  readonly ready: () => Promise<Status>
  /** switch backend (the page re-runs); rejects if it does not initialise */
  readonly use: (b: Tfjs.Backend) => Promise<Status>
  readonly run: (r: RunRequest) => Promise<RunReport>
  readonly lincomb: (c: LincombCase) => Promise<LincombReport>
  readonly bench: (r: BenchRequest) => Promise<BenchReport>
  /** recompute the error-vs-NFE chart and wait for it */
  readonly settle: () => Promise<void>
  /** stop the animation and draw frame k (−1: the last) */
  readonly show: (k: number) => void
  readonly canvasStats: () => CanvasStats
  /** wait for the runs in flight; the latest MNIST run's report (rejects with its error) */
  readonly mnist: () => Promise<MnistReport>
  /** pixel statistics of the digits canvas */
  readonly digitsStats: () => CanvasStats
}

declare global {
  interface Window {
    stepwiseTest?: Api
  }
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** a schedule document ↦ its program on `ns`, or throw the codec's issues */
const programOf = (u: unknown): Prog.Program => {
  const s = Codec.decode(u)
  if (E.isLeft(s)) throw new Error(Codec.format(s.left))
  return Prog.compileOrThrow(ns, 'eps')(s.right)
}

const tensorOf = (rows: ReadonlyArray<number>, D: number): tf.Tensor2D => tf.tensor2d(Float32Array.from(rows), [rows.length / D, D], 'float32')

const unique = (names: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(names)]

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** run a request on the active backend (`demo.safeOptions`), recording numTensors after every instruction (then once more under tf.profile if asked) */
export const run = async (r: RunRequest): Promise<RunReport> => {
  const p = programOf(r.schedule)
  const variant = r.lincomb ?? Tfjs.bestVariant()
  const before = tf.memory().numTensors
  const model = TfjsGmm.eps(r.gmm)
  const xT = tensorOf(r.xT, r.gmm.D)
  const baseline = tf.memory().numTensors
  const tensors: number[] = []
  const steps: number[] = []
  const out = Tfjs.run(p, model, {
    ...safeOptions(),
    lincomb: variant,
    observe: (_k, ins) => {
      tensors.push(tf.memory().numTensors - baseline)
      steps.push(ins.op === 'drop' ? -1 : ins.step)
    },
  })(xT)
  const after = tf.memory().numTensors - baseline
  const x = Array.from(await out.x.data())
  out.x.dispose()
  const profile = r.profile === true ? await tf.profile(() => Tfjs.run(p, model, { ...safeOptions(), lincomb: variant })(xT).x) : undefined
  tf.dispose(profile?.result)
  tf.dispose(xT)
  model.dispose()
  return {
    backend: tf.getBackend(),
    variant,
    x,
    nfe: out.nfe,
    historyDepth: p.historyDepth,
    tensors,
    steps,
    after,
    leaked: tf.memory().numTensors - before,
    kernels: unique(profile?.kernelNames ?? []),
  }
}

/** Σ cᵢ·vᵢ by 'fused' and by 'addN' on the active backend, with the kernels each variant ran */
export const lincomb = async (c: LincombCase): Promise<LincombReport> => {
  if (c.pack === undefined || tf.getBackend() !== 'webgl') return both(c)
  const pack = tf.env().getBool('WEBGL_PACK')
  tf.env().set('WEBGL_PACK', c.pack)
  try {
    return await both(c)
  } finally {
    tf.env().set('WEBGL_PACK', pack)
  }
}

const both = async (c: LincombCase): Promise<LincombReport> => {
  const ts = c.vs.map((v) => tf.tensor2d(Float32Array.from(v), [c.shape[0], c.shape[1]], 'float32'))
  const terms = c.cs.map((ci, i) => [ci, ts[i]!] as const)
  const values = async (variant: Tfjs.Variant) => {
    const profile = await tf.profile(() => Tfjs.lincomb(variant)(terms))
    const y = profile.result
    const data = y instanceof tf.Tensor ? Array.from(await y.data()) : []
    tf.dispose(y)
    return { data, kernels: unique(profile.kernelNames) }
  }
  const fused = await values('fused')
  const addN = await values('addN')
  tf.dispose(ts)
  return { fused: fused.data, addN: addN.data, fusedKernels: fused.kernels, addNKernels: addN.kernels }
}

/** time a program's runs per variant (2 warm-up runs each, then the repetitions interleaved), no finiteness check, each run ended by reading the result back */
export const bench = async (r: BenchRequest): Promise<BenchReport> => {
  const p = programOf(r.schedule)
  const eps = tf.randomNormal<tf.Rank.R2>([r.rows, r.cols], 0, 1, 'float32', 1)
  const xT = tf.randomNormal<tf.Rank.R2>([r.rows, r.cols], 0, 1, 'float32', 2)
  const model: Tfjs.Model = () => tf.clone(eps)
  const opts = (lincomb: Tfjs.Variant): Tfjs.Options => ({ check: false, lincomb })
  const once = async (v: Tfjs.Variant): Promise<number> => {
    const t0 = performance.now()
    const out = Tfjs.run(p, model, opts(v))(xT)
    await out.x.data()
    const ms = performance.now() - t0
    out.x.dispose()
    return ms
  }
  const readback = async (): Promise<number> => {
    const y = tf.add(xT, 1)
    const t0 = performance.now()
    await y.data()
    const ms = performance.now() - t0
    y.dispose()
    return ms
  }
  const steps = p.steps.length
  const runs: Record<string, number[]> = Object.fromEntries(r.lincombs.map((v) => [v, []]))
  for (const v of r.lincombs) for (let k = 0; k < 2; k++) await once(v)
  for (let k = 0; k < r.reps; k++) for (const v of r.lincombs) runs[v]!.push((await once(v)) / steps)
  const backs: number[] = []
  for (let k = 0; k < 5; k++) backs.push(await readback())
  const kernels: Record<string, Record<string, number>> = {}
  for (const v of r.lincombs) {
    const profile = await tf.profile(() => Tfjs.run(p, model, opts(v))(xT).x)
    tf.dispose(profile.result)
    const counts: Record<string, number> = {}
    for (const k of profile.kernels) counts[k.name] = (counts[k.name] ?? 0) + 1
    kernels[v] = counts
  }
  tf.dispose([eps, xT])
  return {
    backend: tf.getBackend(),
    steps,
    combines: p.instrs.filter((i) => i.op === 'combine').length,
    msPerStep: runs,
    readbackMs: [...backs].sort((a, b) => a - b)[backs.length >> 1]!,
    kernels,
  }
}

/**
 * The page's test API, `window.stepwiseTest`: what `test/browser/browser.test.ts` drives through
 * playwright. Requests and reports are plain JSON (they cross `page.evaluate`); schedules cross as
 * documents and are decoded here with the codec, so the page runs exactly the data Node compiled.
 */
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import * as Codec from '../../src/codecs/SolverSchedule.ts'
import type * as Gmm from '../../src/Gmm.ts'
import * as Prog from '../../src/Program.ts'
import * as Tfjs from '../../src/interpreters/Tfjs.ts'
import * as TfjsGmm from '../../src/interpreters/TfjsGmm.ts'
import { ns } from './demo.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a run: a schedule document (compiled on `demo.ns`, eps model), a mixture and row-major x_T */
export interface RunRequest {
  readonly schedule: unknown
  readonly gmm: Gmm.Gmm
  readonly xT: ReadonlyArray<number>
  readonly lincomb?: Tfjs.Variant
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
  /** distinct kernel names of the same run under tf.profile */
  readonly kernels: ReadonlyArray<string>
}

/** one law case: n terms of one [rows, cols] shape */
export interface LincombCase {
  readonly shape: readonly [number, number]
  readonly cs: ReadonlyArray<number>
  readonly vs: ReadonlyArray<ReadonlyArray<number>>
}

/** the case computed by both variants, and the kernels each ran */
export interface LincombReport {
  readonly fused: ReadonlyArray<number>
  readonly addN: ReadonlyArray<number>
  readonly fusedKernels: ReadonlyArray<string>
  readonly addNKernels: ReadonlyArray<string>
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

/** window.stepwiseTest */
export interface Api {
  /** resolves once a backend is active and the first run is drawn */
  readonly ready: () => Promise<Status>
  /** switch backend (the page re-runs); rejects if it does not initialise */
  readonly use: (b: Tfjs.Backend) => Promise<Status>
  readonly run: (r: RunRequest) => Promise<RunReport>
  readonly lincomb: (c: LincombCase) => Promise<LincombReport>
  /** stop the animation and draw frame k (−1: the last) */
  readonly show: (k: number) => void
  readonly canvasStats: () => CanvasStats
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
  return Prog.compile(ns, 'eps')(s.right)
}

const tensorOf = (rows: ReadonlyArray<number>, D: number): tf.Tensor2D => tf.tensor2d(Float32Array.from(rows), [rows.length / D, D], 'float32')

const unique = (names: ReadonlyArray<string>): ReadonlyArray<string> => [...new Set(names)]

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** run a request on the active backend, recording numTensors after every instruction, then once more under tf.profile */
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
    lincomb: variant,
    observe: (_k, ins) => {
      tensors.push(tf.memory().numTensors - baseline)
      steps.push(ins.op === 'drop' ? -1 : ins.step)
    },
  })(xT)
  const after = tf.memory().numTensors - baseline
  const x = Array.from(await out.x.data())
  out.x.dispose()
  const profile = await tf.profile(() => Tfjs.run(p, model, { lincomb: variant })(xT).x)
  if (profile.result instanceof tf.Tensor) profile.result.dispose()
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
    kernels: unique(profile.kernelNames),
  }
}

/** Σ cᵢ·vᵢ by 'fused' and by 'addN' on the active backend, with the kernels each variant ran */
export const lincomb = async (c: LincombCase): Promise<LincombReport> => {
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

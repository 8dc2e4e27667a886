/**
 * The demo's MNIST model, free of the DOM: the class-conditional ε-network (src/models/MnistNet.ts)
 * loaded with `tf.loadLayersModel` from what the build put under mnist/ (weights.ts), classifier-free
 * guidance by `Guidance.cfg` over `TfjsGuidance.instance` with one-hot condition rows, and a run
 * through the stepping API (`Tfjs.stepper`: one `advance` per step, the x̂0 preview of the step's
 * latest evaluation by `Program.preview`) that hands every step's x and x̂0 to the page as it goes.
 */
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as Codec from '../../src/schedule/Codec.ts'
import * as Gmm from '../../src/core/Gmm.ts'
import * as Guidance from '../../src/models/Guidance.ts'
import * as Net from '../../src/models/MnistNet.ts'
import * as Prog from '../../src/run/Program.ts'
import * as Tfjs from '../../src/run/Tfjs.ts'
import * as TfjsGuidance from '../../src/run/TfjsGuidance.ts'
import type { Info } from './weights.ts'

export type { Info } from './weights.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the noise schedule the network was trained under: DDPM linear betas 1e-4 … 0.02, N = 1000 */
export const ns = Net.schedule()

/** pixels per side and per digit */
export const SIDE = 28
export const D = SIDE * SIDE

/** the guidance weights offered (w = 1: the conditional model alone, one call; w = 0: the unconditional one) */
export const weights: ReadonlyArray<number> = [0, 1, 2, 3, 5, 7.5, 10]

/** the class choice: a digit 0–9 for every sample, or 'mix' (sample b gets class b mod 10) */
export type ClassChoice = number | 'mix'

/** the loaded network and the backend its weights live on */
export interface Loaded {
  readonly net: tf.LayersModel
  readonly backend: string
}

/** a sampling request */
export interface Request {
  readonly program: Prog.Program
  readonly labels: ReadonlyArray<number>
  readonly w: number
  /** the seed of x_T ~ N(0, I) (and of a stochastic solver's noise) */
  readonly seed: number
}

/** the run after `step` steps (step 0: x_T, no evaluation yet) */
export interface Frame {
  readonly step: number
  readonly nfe: number
  /** the time of x */
  readonly t: number
  readonly x: Float32Array
  /** x̂0 from the latest evaluation (undefined before the first) */
  readonly x0: Float32Array | undefined
  /** tf.memory().numTensors above the count before the run, after the step (its preview disposed) */
  readonly tensors: number
}

/** a finished (or superseded) run */
export interface Sampled {
  readonly frames: ReadonlyArray<Frame>
  readonly steps: number
  readonly nfe: number
  readonly ms: number
  /** false when a newer run stopped it early */
  readonly complete: boolean
  /** numTensors above the count before the run once everything is released (0) */
  readonly leaked: number
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the labels of `count` samples */
export const labelsOf = (choice: ClassChoice, count: number): ReadonlyArray<number> => Array.from({ length: count }, (_, b) => (choice === 'mix' ? b % 10 : choice))

/** text ↦ a program on the network's noise schedule (ε), or the issues (as demo.programOf) */
export const programOf = (text: string): E.Either<ReadonlyArray<Codec.Issue>, Prog.Program> =>
  pipe(
    Codec.parseJson(text),
    E.chainW((s) =>
      E.tryCatch(
        () => Prog.compileOrThrow(ns, 'eps')(s),
        (e): ReadonlyArray<Codec.Issue> => [{ path: '(compile)', message: e instanceof Error ? e.message : String(e) }],
      ),
    ),
  )

/** what the build says about the network (mnist/info.json next to the page) */
export const info = async (base: string): Promise<Info> => {
  const r = await fetch(new URL('mnist/info.json', base))
  if (!r.ok) throw new Error(`mnist/info.json: HTTP ${r.status} (rebuild the demo: npm run build:demo)`)
  return (await r.json()) as Info
}

/** the network's model.json (and shards) as tf.loadLayersModel reads them, fetched once */
let artifacts: Promise<tf.io.ModelArtifacts> | undefined

/**
 * the network on the active backend: `tf.loadLayersModel` from the fetched artifacts (fetched once from
 * mnist/eps/model.json); the caller disposes the previous network when the backend changes
 */
export const load = async (base: string): Promise<Loaded> => {
  artifacts ??= (async () => {
    const h = tf.io.http(new URL('mnist/eps/model.json', base).href)
    return h.load!()
  })().catch((e: unknown) => {
    artifacts = undefined
    throw e
  })
  const net = await tf.loadLayersModel(tf.io.fromMemory(await artifacts))
  return { net, backend: tf.getBackend() }
}

/**
 * classifier-free guidance on the network for fixed labels: `Guidance.cfg` over `TfjsGuidance.instance` with the
 * one-hot rows of the labels and of the null label; `dispose` frees the conditions and the [∅; c] pair cfg holds
 */
export const guided = (net: tf.LayersModel, labels: ReadonlyArray<number>, w: number): { readonly model: Tfjs.Model; readonly dispose: () => void } => {
  const B = labels.length
  const cond = tf.tensor2d(Net.oneHot(labels), [B, Net.LABELS])
  const uncond = tf.tensor2d(Net.oneHot(labels.map(() => Net.NULL_LABEL)), [B, Net.LABELS])
  // cfg concatenates [∅; c] once, when it is made, and holds it: catch that tensor to free it with the conditions
  const held: tf.Tensor[] = []
  let making = true
  const I: typeof TfjsGuidance.instance = {
    ...TfjsGuidance.instance,
    concat: (parts) => {
      const v = TfjsGuidance.instance.concat(parts)
      if (making) held.push(v)
      return v
    },
  }
  const m = Guidance.cfg(I)({ w, cond, uncond })(Net.conditional(net))
  making = false
  return { model: (x, at, subset) => m.call(x, at, subset), dispose: () => tf.dispose([cond, uncond, ...held]) }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** a tensor's values as float32, read asynchronously */
const read = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from(await t.data())

/**
 * sample: x_T from the seed, then one `advance` per step through `Tfjs.stepper`; after each step x and the x̂0 preview
 * are read back (asynchronously) and handed to `onFrame` (awaited: the page draws); stops early, releasing everything,
 * when `stale()` turns true. Throws the run's StepError, or an Error for a non-finite result.
 */
export const sample = async (loaded: Loaded, r: Request, opts: Tfjs.Options, onFrame: (f: Frame) => Promise<void> | void, stale: () => boolean): Promise<Sampled> => {
  const before = tf.memory().numTensors
  const B = r.labels.length
  const g = guided(loaded.net, r.labels, r.w)
  const xT = tf.tensor2d(Float32Array.from(Gmm.normals(B * D, r.seed)), [B, D])
  const st = Tfjs.stepper(r.program, g.model, { ...opts, seed: r.seed }, [xT])
  const p = r.program
  const frames: Frame[] = []
  let s = st.init(xT)
  const t0 = performance.now()
  let done: Omit<Sampled, 'leaked'>
  const emit = async (step: number, preview: tf.Tensor2D | undefined): Promise<void> => {
    const x = await read(s.x)
    const x0 = preview === undefined ? undefined : await read(preview).finally(() => preview.dispose())
    const t = step === 0 ? (p.steps[0]?.from.t ?? ns.T) : (p.steps[step - 1]?.to.t ?? 0)
    const f: Frame = { step, nfe: s.nfe, t, x, x0, tensors: tf.memory().numTensors - before }
    frames.push(f)
    await onFrame(f)
  }
  try {
    await emit(0, undefined)
    for (let i = 0; i < st.steps && !stale(); i++) {
      s = st.advance(i, i + 1)(s)
      const now = s
      await emit(
        i + 1,
        tf.tidy(() => Prog.preview(st.env, p)(now)),
      )
    }
    const last = frames[frames.length - 1]!
    const bad = last.x.findIndex((v) => !Number.isFinite(v))
    if (bad >= 0) throw new Error(`the run produced ${last.x[bad]} at element ${bad} after step ${last.step}; try a lower order or another grid`)
    done = { frames, steps: st.steps, nfe: s.nfe, ms: performance.now() - t0, complete: frames.length === st.steps + 1 }
  } catch (e) {
    s = st.latest() ?? s
    throw e
  } finally {
    st.dispose(s, new Set())
    tf.dispose(xT)
    g.dispose()
  }
  return { ...done, leaked: tf.memory().numTensors - before }
}

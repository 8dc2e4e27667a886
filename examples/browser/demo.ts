/**
 * The browser demo's logic, free of the DOM: problems (2-D Gaussian mixtures with exact endpoints),
 * schedule documents from named solvers, backend selection (webgpu → webgl → wasm → cpu), runs on
 * the active tfjs backend that record every evaluated point, and error-vs-NFE curves.
 */
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as Codec from '../../src/schedule/Codec.ts'
import * as Gmm from '../../src/core/Gmm.ts'
import * as NS from '../../src/core/NoiseSchedule.ts'
import type * as Plot from '../../src/interop/Plot.ts'
import * as Prog from '../../src/run/Program.ts'
import * as Reference from '../../src/models/Reference.ts'
import type * as S from '../../src/schedule/SolverSchedule.ts'
import * as Solvers from '../../src/solvers/index.ts'
import * as Tfjs from '../../src/run/Tfjs.ts'
import * as TfjsGmm from '../../src/run/TfjsGmm.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the noise schedule of every run in the demo (and in the browser tests): VP linear β 0.1–20, T = 1 → t₀ = 1e-3 */
export const ns: NS.NoiseSchedule = NS.vpLinear(0.1, 20)

/** a named 2-D mixture */
export interface Mixture {
  readonly id: string
  readonly label: string
  readonly gmm: Gmm.Gmm
}

/** a problem: start points x_T, their exact PF-ODE endpoints and the component each endpoint belongs to */
export interface Problem {
  readonly mixture: Mixture
  readonly rows: number
  readonly xT: Float64Array
  readonly exact: Float64Array
  readonly labels: ReadonlyArray<number>
}

/** a run on the active backend: x at every grid point (frames[0] = x_T, last = the result) and its cost */
export interface Trajectory {
  readonly frames: ReadonlyArray<Float32Array>
  readonly ts: ReadonlyArray<number>
  readonly x: Float64Array
  readonly nfe: number
  readonly ms: number
}

/** the active backend, its lincomb variant and (for webgl) the GPU renderer */
export interface Active {
  readonly backend: Tfjs.Backend
  readonly variant: Tfjs.Variant
  readonly renderer: string
  /** backends tried before it, with why they failed */
  readonly failed: ReadonlyArray<{ readonly backend: Tfjs.Backend; readonly error: string }>
}

/** the named solvers the demo offers: those that need nothing but ε̂ (DPM-Solver-v3 needs its model statistics) */
export const solvers: ReadonlyArray<Solvers.Named> = Solvers.all.filter((n) => n.needs === undefined)

/** the backends `auto` tries, in order */
export const preference: ReadonlyArray<Tfjs.Backend> = ['webgpu', 'webgl', 'wasm', 'cpu']

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** K equal-weight isotropic components N(r·(cos 2πk/K, sin 2πk/K), s²·I) */
export const ring = (K: number, r: number, s: number): Gmm.Gmm => ({
  K,
  D: 2,
  weights: Array.from({ length: K }, () => 1 / K),
  means: Array.from({ length: K }, (_, k) => [r * Math.cos((2 * Math.PI * k) / K), r * Math.sin((2 * Math.PI * k) / K)]),
  variances: Array.from({ length: K }, () => [s * s, s * s]),
})

/** the demo's mixtures: a ring of 8 and two seeded random mixtures (as `stepwise compare`'s 2-D problem) */
export const mixtures: ReadonlyArray<Mixture> = [
  { id: 'ring8', label: 'ring of 8 (s = 0.08)', gmm: ring(8, 1.2, 0.08) },
  { id: 'random3', label: 'random K = 3 (seed 1)', gmm: Gmm.random(3, 2, 1) },
  { id: 'random6', label: 'random K = 6 (seed 7)', gmm: Gmm.random(6, 2, 7) },
]

/** the component with the highest posterior at t₀ for each row of x (row-major): argmax_k log w_k − ½Σ_d[(x_d − μ_kd)²/s²_kd + log s²_kd] */
export const labelsOf = (g: Gmm.Gmm, x: Float64Array): ReadonlyArray<number> =>
  Array.from({ length: x.length / g.D }, (_, b) => {
    const scores = g.means.map((mu, k) => Math.log(g.weights[k]!) - 0.5 * mu.reduce((acc, m, d) => acc + (x[b * g.D + d]! - m) ** 2 / g.variances[k]![d]! + Math.log(g.variances[k]![d]!), 0))
    return scores.indexOf(Math.max(...scores))
  })

/** `rows` standard normal start points (seeded) and their exact endpoints (Reference, rtol = atol = 1e-12) */
export const problem = (mixture: Mixture, rows: number, seed: number): Problem => {
  const xT = Gmm.normals(rows * mixture.gmm.D, seed)
  const exact = Reference.endpointOf(ns)(mixture.gmm, xT)
  return { mixture, rows, xT, exact, labels: labelsOf(mixture.gmm, exact) }
}

/** a named solver's schedule document at `nfe` (undefined when the id is unknown) */
export const documentOf = (id: string, nfe: number): S.SolverSchedule | undefined => Solvers.byId(id)?.build({ nfe })

/** the schedule as text: top-level keys one per line, each step on one line (as in the README) */
export const pretty = (s: S.SolverSchedule): string => {
  const u = Codec.encode(s)
  if (typeof u !== 'object' || u === null) return JSON.stringify(u)
  const lines = Object.entries(u).map(([k, v]) =>
    k === 'steps' && Array.isArray(v) ? `  "steps": [\n${v.map((d) => `    ${JSON.stringify(d)}`).join(',\n')}\n  ]` : `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  )
  return `{\n${lines.join(',\n')}\n}\n`
}

/** text ↦ a compiled program, or the issues (decode issues with paths; a compile failure as one issue at '(compile)') */
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

// -------------------------------------------------------------------------------------------------
// backends
// -------------------------------------------------------------------------------------------------

/** the GPU behind the active backend: WebGL's renderer string (unmasked where allowed) or WebGPU's adapter vendor and architecture; '' on cpu/wasm */
export const renderer = (): string => {
  const b: object = tf.backend()
  const info = 'adapterInfo' in b && typeof b.adapterInfo === 'object' && b.adapterInfo !== null ? b.adapterInfo : undefined
  if (info !== undefined)
    return ['vendor', 'architecture']
      .map((k) => (k in info ? String(Object.getOwnPropertyDescriptor(info, k)?.value ?? '') : ''))
      .join(' ')
      .trim()
  const gpgpu = 'gpgpu' in b && typeof b.gpgpu === 'object' && b.gpgpu !== null ? b.gpgpu : undefined
  const gl = gpgpu !== undefined && 'gl' in gpgpu && (gpgpu.gl instanceof WebGL2RenderingContext || gpgpu.gl instanceof WebGLRenderingContext) ? gpgpu.gl : undefined
  if (gl === undefined) return ''
  const ext = gl.getExtension('WEBGL_debug_renderer_info')
  return String(gl.getParameter(ext === null ? gl.RENDERER : ext.UNMASKED_RENDERER_WEBGL))
}

/** the state after a successful `Tfjs.init` */
const active = (backend: Tfjs.Backend, failed: Active['failed']): Active => ({ backend, variant: Tfjs.bestVariant(), renderer: renderer(), failed })

/**
 * the first of `order` that initialises (software WebGL allowed: headless and GPU-less machines get
 * SwiftShader; `Tfjs.init` throws when tfjs silently falls back to another backend)
 */
export const initFirst = async (order: ReadonlyArray<Tfjs.Backend>): Promise<Active> => {
  tf.env().set('SOFTWARE_WEBGL_ENABLED', true)
  const failed: Array<{ backend: Tfjs.Backend; error: string }> = []
  for (const b of order) {
    try {
      await Tfjs.init(b)
      return active(b, failed)
    } catch (e) {
      failed.push({ backend: b, error: e instanceof Error ? e.message : String(e) })
    }
  }
  throw new Error(`no tfjs backend initialised: ${failed.map((f) => `${f.backend}: ${f.error}`).join('; ')}`)
}

// -------------------------------------------------------------------------------------------------
// runs
// -------------------------------------------------------------------------------------------------

/**
 * run options for the active backend: on webgpu the interpreter's per-combine finiteness check is
 * off, because it reads a sum back synchronously and tfjs-backend-webgpu 4.22 reads synchronously
 * through a canvas (headless it returns zeros and can lose the device); runs here check their
 * result once, asynchronously, instead
 */
export const safeOptions = (): Tfjs.Options => (tf.getBackend() === 'webgpu' ? { check: false } : {})

/** a tensor's values, read asynchronously (no synchronous GPU readback) */
export const read = async (t: tf.Tensor): Promise<Float64Array> => Float64Array.from(await t.data())

/** throw unless every value is finite */
const finite = (x: Float64Array): Float64Array => {
  const k = x.findIndex((v) => !Number.isFinite(v))
  if (k >= 0) throw new Error(`the run produced ${x[k]} at element ${k}; the step coefficients are not finite here (try a lower order or another grid)`)
  return x
}

/**
 * run `p` on the active backend from the problem's x_T, keeping x at every grid point the model
 * evaluates (a pseudo corrector's point shows its predicted x) and the result; `ms` includes reading
 * the result back. Throws the run's StepError, or an Error for a non-finite result.
 */
export const trajectory = async (p: Prog.Program, pr: Problem, opts: Tfjs.Options = safeOptions()): Promise<Trajectory> => {
  const kept: Array<tf.Tensor | undefined> = p.points.map(() => undefined)
  const inner = TfjsGmm.eps(pr.mixture.gmm)
  const model: Tfjs.Model = (x, at) => {
    const k = p.points.indexOf(at)
    if (k > 0) {
      kept[k]?.dispose()
      kept[k] = tf.keep(tf.clone(x))
    }
    return inner(x, at)
  }
  const xT = Tfjs.fromFloat64(pr.xT, pr.mixture.gmm.D)
  try {
    const t0 = performance.now()
    const r = Tfjs.run(p, model, opts)(xT)
    const x = await read(r.x).finally(() => r.x.dispose())
    const ms = performance.now() - t0
    const seen = await Promise.all(kept.map((t) => (t === undefined ? undefined : t.data().then((v) => Float32Array.from(v)))))
    const frames = [...seen.slice(0, -1), Float32Array.from(finite(x))].reduce<Float32Array[]>((acc, f, k) => [...acc, f ?? (k === 0 ? Float32Array.from(pr.xT) : acc[k - 1]!)], [])
    return { frames, ts: p.points.map((q) => q.t), x, nfe: r.nfe, ms }
  } finally {
    tf.dispose(kept.filter((t): t is tf.Tensor => t !== undefined))
    xT.dispose()
    inner.dispose()
  }
}

/** mean over rows of ‖x − y‖₂ (row-major, D columns) */
export const meanL2 = (x: ArrayLike<number>, y: ArrayLike<number>, D: number): number => {
  const rows = x.length / D
  let total = 0
  for (let b = 0; b < rows; b++) {
    let s = 0
    for (let d = 0; d < D; d++) s += (x[b * D + d]! - y[b * D + d]!) ** 2
    total += Math.sqrt(s)
  }
  return total / rows
}

/** the final x of `p` on the active backend (no frames); NaN-filled when the run stops on a non-finite value */
export const endpointOn = async (p: Prog.Program, pr: Problem): Promise<Float64Array> => {
  const model = TfjsGmm.eps(pr.mixture.gmm)
  const xT = Tfjs.fromFloat64(pr.xT, pr.mixture.gmm.D)
  try {
    const r = Tfjs.run(p, model, safeOptions())(xT)
    return await read(r.x).finally(() => r.x.dispose())
  } catch {
    return new Float64Array(pr.xT.length).fill(NaN)
  } finally {
    xT.dispose()
    model.dispose()
  }
}

/**
 * error-vs-NFE series: each named solver at each budget (budgets a solver cannot meet are skipped),
 * mean L2 error against the exact endpoints; awaits `pause` between runs (keep the page responsive)
 * and stops early (undefined) when `stale()` turns true
 */
export const errorSeries = async (
  ids: ReadonlyArray<string>,
  nfes: ReadonlyArray<number>,
  pr: Problem,
  pause: () => Promise<unknown>,
  stale: () => boolean,
): Promise<ReadonlyArray<Plot.Series> | undefined> => {
  const out: Plot.Series[] = []
  for (const id of ids) {
    const named = Solvers.byId(id)
    if (named === undefined) continue
    const points: Array<readonly [number, number]> = []
    for (const n of nfes) {
      const p = E.tryCatch(() => Prog.compileOrThrow(ns, 'eps')(named.build({ nfe: n })), String)
      if (E.isLeft(p)) continue
      points.push([p.right.nfe, meanL2(await endpointOn(p.right, pr), pr.exact, pr.mixture.gmm.D)])
      await pause()
      if (stale()) return undefined
    }
    out.push({ label: id, note: named.label, points })
  }
  return out
}

/**
 * The browser demo's logic, free of the DOM: problems (2-D Gaussian mixtures with exact endpoints),
 * schedule documents from named solvers, backend selection (webgpu → webgl → wasm → cpu), runs on
 * the active tfjs backend that record every evaluated point, and error-vs-NFE curves.
 */
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import * as Codec from '../../src/codecs/SolverSchedule.ts'
import * as Gmm from '../../src/Gmm.ts'
import * as NS from '../../src/NoiseSchedule.ts'
import type * as Plot from '../../src/Plot.ts'
import * as Prog from '../../src/Program.ts'
import * as Reference from '../../src/Reference.ts'
import type * as S from '../../src/SolverSchedule.ts'
import * as Solvers from '../../src/solvers/index.ts'
import * as Tfjs from '../../src/interpreters/Tfjs.ts'
import * as TfjsGmm from '../../src/interpreters/TfjsGmm.ts'

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

/** the component with the highest posterior at t₀ for each row of x (row-major, D = 2) */
export const labelsOf = (g: Gmm.Gmm, x: Float64Array): ReadonlyArray<number> =>
  Array.from({ length: x.length / g.D }, (_, b) => {
    const score = (k: number) =>
      Math.log(g.weights[k]!) -
      0.5 * g.means[k]!.reduce((acc, mu, d) => acc + (x[b * g.D + d]! - mu) ** 2 / g.variances[k]![d]! + Math.log(g.variances[k]![d]!), 0)
    return Array.from({ length: g.K }, (_, k) => k).reduce((best, k) => (score(k) > score(best) ? k : best), 0)
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
    k === 'steps' && Array.isArray(v)
      ? `  "steps": [\n${v.map((d) => `    ${JSON.stringify(d)}`).join(',\n')}\n  ]`
      : `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  )
  return `{\n${lines.join(',\n')}\n}\n`
}

/** text ↦ a compiled program, or the issues (decode issues with paths; a compile failure as one issue at '(compile)') */
export const programOf = (text: string): E.Either<ReadonlyArray<Codec.Issue>, Prog.Program> =>
  E.chain((s: S.SolverSchedule) =>
    E.tryCatch(
      () => Prog.compile(ns, 'eps')(s),
      (e) => [{ path: '(compile)', message: e instanceof Error ? e.message : String(e) }],
    ),
  )(Codec.parseJson(text))

// -------------------------------------------------------------------------------------------------
// backends
// -------------------------------------------------------------------------------------------------

/** the WebGL renderer string (unmasked where allowed), or '' off webgl */
export const renderer = (): string => {
  const b: object = tf.backend()
  const gpgpu = 'gpgpu' in b && typeof b.gpgpu === 'object' && b.gpgpu !== null ? b.gpgpu : undefined
  const gl = gpgpu !== undefined && 'gl' in gpgpu && gpgpu.gl instanceof WebGL2RenderingContext ? gpgpu.gl : undefined
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
 * run `p` on the active backend from the problem's x_T, copying x at every grid point the model
 * evaluates (a pseudo corrector's point shows its predicted x) and the result; throws the run's StepError
 */
export const trajectory = (p: Prog.Program, pr: Problem, opts: Tfjs.Options = {}): Trajectory => {
  const D = pr.mixture.gmm.D
  const frames: Array<Float32Array | undefined> = p.points.map(() => undefined)
  frames[0] = Float32Array.from(pr.xT)
  const inner = TfjsGmm.eps(pr.mixture.gmm)
  const model: Tfjs.Model = (x, at) => {
    const k = p.points.indexOf(at)
    if (k > 0) frames[k] = Float32Array.from(x.dataSync())
    return inner(x, at)
  }
  const xT = Tfjs.fromFloat64(pr.xT, D)
  const t0 = performance.now()
  try {
    const r = Tfjs.run(p, model, opts)(xT)
    const x = Tfjs.toFloat64(r.x)
    r.x.dispose()
    const ms = performance.now() - t0
    frames[frames.length - 1] = Float32Array.from(x)
    const filled = frames.reduce<Float32Array[]>((acc, f) => [...acc, f ?? acc[acc.length - 1]!], [])
    return { frames: filled, ts: p.points.map((q) => q.t), x, nfe: r.nfe, ms }
  } finally {
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
export const endpointOn = (p: Prog.Program, pr: Problem): Float64Array => {
  const model = TfjsGmm.eps(pr.mixture.gmm)
  const xT = Tfjs.fromFloat64(pr.xT, pr.mixture.gmm.D)
  try {
    const r = Tfjs.run(p, model)(xT)
    const x = Tfjs.toFloat64(r.x)
    r.x.dispose()
    return x
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
      const p = E.tryCatch(() => Prog.compile(ns, 'eps')(named.build({ nfe: n })), () => undefined)
      if (E.isLeft(p) || p.right === undefined) continue
      points.push([p.right.nfe, meanL2(endpointOn(p.right, pr), pr.exact, pr.mixture.gmm.D)])
      await pause()
      if (stale()) return undefined
    }
    out.push({ label: id, note: named.label, points })
  }
  return out
}

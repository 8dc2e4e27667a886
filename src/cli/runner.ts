/**
 * One entry point for running a compiled program on a Gaussian-mixture problem with either
 * interpreter. tfjs is loaded only when asked for.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as Gmm from '../core/Gmm.ts'
import * as Problem from '../interop/Problem.ts'
import * as MR from '../models/MeanReverting.ts'
import type * as Prog from '../run/Program.ts'
import * as F from '../run/Float64.ts'
import { usage } from './io.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export type Interpreter = 'float64' | 'tfjs'

/** a tfjs backend (as `run/Backends.ts` names them) */
export type Backend = 'wasm' | 'cpu' | 'webgl' | 'webgpu' | 'tensorflow'

const BACKENDS: ReadonlyArray<Backend> = ['wasm', 'cpu', 'webgl', 'webgpu', 'tensorflow']

/** run a program on the exact-ε model of a mixture from row-major x_T (stochastic steps: noise seed, default 0; mean-reverting: the condition μ, like x_T) */
export type Runner = (p: Prog.Program, g: Gmm.Gmm, xT: Float64Array, seed?: number, mu?: Float64Array) => Promise<F.Result>

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the interpreter named on the command line */
export const interpreterOf = (s: string | undefined): Interpreter => {
  if (s === undefined || s === 'float64') return 'float64'
  if (s === 'tfjs') return 'tfjs'
  throw usage(`--interpreter: expected float64 or tfjs, got '${s}'`)
}

/** the tfjs backend named on the command line (the CLI runs in Node: webgl/webgpu are refused here with the reason) */
export const backendOf = (s: string | undefined): Backend => {
  const b = s === undefined ? 'wasm' : BACKENDS.find((x) => x === s)
  if (b === undefined) throw usage(`--backend: expected one of ${BACKENDS.join(', ')}; got '${s}'`)
  if (b === 'webgl' || b === 'webgpu')
    throw usage(`--backend ${b}: backend '${b}' needs a browser (Node has no ${b === 'webgl' ? 'WebGL context' : 'WebGPU device'}); in Node use wasm (default), cpu or tensorflow`)
  return b
}

/** a run's error with the likely bad field of the problem or x_T when a value turned non-finite (Problem.suspect) */
const explained =
  (interp: Interpreter, run: Runner): Runner =>
  async (p, g, xT, seed, mu) => {
    if (!(xT.length > 0 && xT.length % g.D === 0)) throw new Error(`x_T has ${xT.length} numbers; expected rows of D = ${g.D} (at least one)`)
    try {
      return await run(p, g, xT, seed, mu)
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      if (!/NaN|Infinity/.test(msg)) throw e
      const s = Problem.suspect(g, xT, mu, interp === 'float64' ? 'float64' : 'float32')
      throw new Error(
        `${msg}\nlikely bad field: ${s ?? (interp === 'tfjs' ? 'none found at float64 scale; float32 holds |x| ≤ 3.4e38: run with --interpreter float64 to see which value is not finite' : 'none found (every value of the problem and x_T is of moderate size); check problem.variances, problem.weights and the schedule range (schedule.T, schedule.t_0)')}`,
      )
    }
  }

/** a runner for the chosen interpreter (Float64: exact; Tfjs: float32 on the chosen backend, selected by `Backends.select`); non-finite values name the likely bad field */
export const runner = async (interp: Interpreter, backend: Backend = 'wasm'): Promise<Runner> => explained(interp, await bare(interp, backend))

/** the runner without the explanation of non-finite values */
const bare = async (interp: Interpreter, backend: Backend): Promise<Runner> => {
  if (interp === 'float64') return async (p, g, xT, seed = 0, mu) => F.run(p, mu === undefined ? Gmm.eps(g) : MR.eps(g, mu), { D: g.D, seed, ...(mu === undefined ? {} : { mu }) })(xT)
  const Tfjs = await import('../run/Tfjs.ts')
  const TG = await import('../run/TfjsGmm.ts')
  const Backends = await import('../run/Backends.ts')
  const b = Backends.parse(backend)
  if (E.isLeft(b)) throw usage(b.left)
  await Backends.select(b.right)
  return async (p, g, xT, seed = 0, mu) => {
    const muT = mu === undefined ? undefined : Tfjs.fromFloat64(mu, g.D)
    const model = muT === undefined ? TG.eps(g) : TG.meanReverting(g, muT)
    const x = Tfjs.fromFloat64(xT, g.D)
    try {
      const r = Tfjs.run(p, model, { seed, ...(muT === undefined ? {} : { mu: muT }) })(x)
      const out = await Tfjs.toFloat64(r.x)
      r.x.dispose()
      return { x: out, nfe: r.nfe }
    } finally {
      x.dispose()
      muT?.dispose()
      model.dispose?.()
    }
  }
}

/**
 * One entry point for running a compiled program on a Gaussian-mixture problem with either
 * interpreter. tfjs is loaded only when asked for.
 */
import * as Gmm from '../Gmm.ts'
import type * as Prog from '../Program.ts'
import * as F from '../interpreters/Float64.ts'
import { usage } from './io.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

export type Interpreter = 'float64' | 'tfjs'
export type Backend = 'wasm' | 'cpu'

/** run a program on the exact-ε model of a mixture from row-major x_T */
export type Runner = (p: Prog.Program, g: Gmm.Gmm, xT: Float64Array) => Promise<F.Result>

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the interpreter named on the command line */
export const interpreterOf = (s: string | undefined): Interpreter => {
  if (s === undefined || s === 'float64') return 'float64'
  if (s === 'tfjs') return 'tfjs'
  throw usage(`--interpreter: expected float64 or tfjs, got '${s}'`)
}

/** the tfjs backend named on the command line */
export const backendOf = (s: string | undefined): Backend => {
  if (s === undefined || s === 'wasm') return 'wasm'
  if (s === 'cpu') return 'cpu'
  throw usage(`--backend: expected wasm or cpu (webgl/webgpu run in the browser), got '${s}'`)
}

/** a runner for the chosen interpreter (Float64: exact; Tfjs: float32 on the chosen backend) */
export const runner = async (interp: Interpreter, backend: Backend = 'wasm'): Promise<Runner> => {
  if (interp === 'float64') return async (p, g, xT) => F.run(p, Gmm.eps(g))(xT)
  const Tfjs = await import('../interpreters/Tfjs.ts')
  const TG = await import('../interpreters/TfjsGmm.ts')
  await Tfjs.init(backend)
  return async (p, g, xT) => {
    const model = TG.eps(g)
    const x = Tfjs.fromFloat64(xT, g.D)
    try {
      const r = Tfjs.run(p, model)(x)
      const out = await Tfjs.toFloat64(r.x)
      r.x.dispose()
      return { x: out, nfe: r.nfe }
    } finally {
      x.dispose()
      model.dispose?.()
    }
  }
}

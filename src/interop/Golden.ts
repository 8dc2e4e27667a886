/**
 * The golden format (diffusion-sampler-golden/v1): decoding at the boundary, the noise schedule it
 * describes, and the map from each reference run (family + params) to stepwise's own constructors.
 * Reference outputs are never read to produce an output; they are only compared against.
 */
import * as t from 'io-ts'
import type * as S from '../schedule/SolverSchedule.ts'
import * as Dpm from '../solvers/Dpm.ts'
import * as K from '../solvers/K.ts'
import * as U from '../solvers/UniPC.ts'
import { decodeOrThrow, formatIssues } from '../core/Codec.ts'
import * as Problem from './Problem.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

const Matrix = t.array(t.array(t.number))

/** the problem-file codec and checks live in Problem.ts; re-exported here for the golden format's users */
export const ProblemFileC = Problem.ProblemFileC

const RunC = t.intersection([
  t.type({
    id: t.string,
    family: t.string,
    nfe: t.number,
    params: t.record(t.string, t.unknown),
  }),
  t.partial({ x0: Matrix, label: t.string, grid: t.string, err: t.type({ mean_l2: t.number }) }),
])

/** a golden file (only the fields stepwise uses) */
export const GoldenC = t.intersection([
  ProblemFileC,
  t.type({ x_T: t.type({ data: Matrix }), runs: t.array(RunC) }),
  t.partial({ ground_truth: t.type({ x_0: Matrix }), golden_rows: t.number, format: t.string }),
])

/** a decoded problem file: the mixture and its noise schedule (Problem.ts) */
export type ProblemFile = Problem.ProblemFile
/** a decoded golden file */
export type Golden = t.TypeOf<typeof GoldenC>
/** one reference run of a golden file */
export type Run = t.TypeOf<typeof RunC>

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** decode a problem file: structure and cross-field checks (Problem.ts; throws listing every issue with its path) */
export const decodeProblem = (u: unknown, file?: string): ProblemFile => Problem.decodeOrThrow(u, file)

/** decode a golden file: the problem part checked as a problem file, x_T as start points of width D (throws a path-naming error) */
export const decodeGolden = (u: unknown, file = 'golden file'): Golden => {
  const g = decodeOrThrow(GoldenC, file)(u)
  const issues = [...Problem.check(g), ...Problem.startIssues(g.x_T, g.problem.D).map((i) => ({ ...i, path: `x_T.${i.path}` }))]
  if (issues.length > 0) throw new Error(`invalid ${file}:\n${formatIssues(issues)}`)
  return g
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the noise schedule of a problem file, over its [t_0, T] */
export const noiseSchedule = Problem.noiseSchedule

/** the condition μ of a mean-reverting problem for N rows (row-major N·D), undefined for the other schedules; throws on a mismatch */
export const muOf = Problem.muOf

/** the mixture of a problem file */
export const gmm = Problem.gmm

const str = (p: Record<string, unknown>, k: string): string => {
  const v = p[k]
  if (typeof v !== 'string') throw new Error(`params.${k}: expected a string, got ${JSON.stringify(v)}`)
  return v
}
const int = (p: Record<string, unknown>, k: string): number => {
  const v = p[k]
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`params.${k}: expected an integer, got ${JSON.stringify(v)}`)
  return v
}
const gridKind = (s: string): 'time_uniform' | 'logSNR' | 'time_quadratic' | 'karras' => {
  if (s === 'time_uniform' || s === 'logSNR' || s === 'time_quadratic' || s === 'karras') return s
  throw new Error(`unsupported grid '${s}' (supported: time_uniform, logSNR, time_quadratic, karras)`)
}

/** stepwise's schedule for a reference run (family + params), with the references' quirks as parity options */
export const scheduleOf = (run: Run): S.SolverSchedule => {
  const p = run.params
  switch (run.family) {
    case 'dpm_solver': {
      const prediction = str(p, 'algorithm_type') === 'dpmsolver++' ? 'data' : 'noise'
      const steps = int(p, 'steps')
      const order = int(p, 'order')
      const grid = gridKind(str(p, 'skip_type'))
      const solverType = p['solver_type'] === 'taylor' ? 'taylor' : 'dpmsolver'
      const s =
        order === 1
          ? Dpm.ddim({ nfe: steps, grid, prediction })
          : str(p, 'method') === 'multistep'
            ? Dpm.multistep({
                nfe: steps,
                grid,
                prediction,
                order: order === 3 ? 3 : 2,
                parity: 'reference',
                lowerOrderFinalBelow: p['lower_order_final'] === false ? 0 : 10,
                solverType,
              })
            : Dpm.singlestep({ nfe: steps, grid, prediction, order: order === 3 ? 3 : 2, solverType })
      return p['denoise_to_zero'] === true ? { ...s, options: { ...s.options, denoiseToZero: true } } : s
    }
    case 'unipc': {
      const variant = str(p, 'variant') === 'bh2' ? 'bh2' : 'bh1'
      const fc = p['corrector_at_final_step'] === true
      const steps = int(p, 'steps')
      const prediction = str(p, 'algorithm_type') === 'noise_prediction' ? 'noise' : 'data'
      return U.unipc({ nfe: fc ? steps + 1 : steps, grid: gridKind(str(p, 'skip_type')), variant, order: int(p, 'order'), finalCorrector: fc, prediction })
    }
    case 'k_diffusion': {
      const grid = gridKind(str(p, 'grid'))
      const n = int(p, 'intervals')
      switch (str(p, 'sampler')) {
        case 'sample_euler':
          return K.euler({ nfe: n, grid })
        case 'sample_heun':
          return K.heun({ nfe: 2 * n, grid })
        case 'sample_dpm_2':
          return K.dpm2({ nfe: 2 * n, grid })
        case 'sample_lms':
          return K.lms({ nfe: n, grid, order: typeof p['order'] === 'number' ? p['order'] : 4 })
        case 'sample_dpmpp_2m':
          return K.dpmpp2m({ nfe: n, grid })
        case 'sample_dpmpp_3m_sde':
          if (p['eta'] !== 0 && p['eta'] !== undefined) throw new Error(`k_diffusion sample_dpmpp_3m_sde with eta ${String(p['eta'])}: only eta = 0 is deterministic`)
          return K.dpmpp3m({ nfe: n, grid, parity: 'reference' })
        default:
          throw new Error(`unsupported k_diffusion sampler '${str(p, 'sampler')}'`)
      }
    }
    default:
      throw new Error(`unsupported family '${run.family}' (supported: dpm_solver, unipc, k_diffusion)`)
  }
}

/** mean over rows of ‖y_n − x_n‖₂ */
export const meanL2 = (y: ReadonlyArray<ReadonlyArray<number>>, x: ReadonlyArray<ReadonlyArray<number>>): number =>
  y.reduce((acc, row, n) => acc + Math.hypot(...row.map((v, d) => v - x[n]![d]!)), 0) / y.length

/** max over the common rows of |y − x| */
export const maxAbs = (y: ReadonlyArray<ReadonlyArray<number>>, x: ReadonlyArray<ReadonlyArray<number>>): number => {
  let m = 0
  x.forEach((row, n) => row.forEach((v, d) => (m = Math.max(m, Math.abs(v - y[n]![d]!)))))
  return m
}

/** row-major flattening of a [N][D] matrix */
export const flatten = (m: ReadonlyArray<ReadonlyArray<number>>): Float64Array => Float64Array.from(m.flat())
/** [N][D] rows of a row-major batch */
export const rows = (v: ArrayLike<number>, D: number): number[][] => Array.from({ length: v.length / D }, (_, n) => Array.from({ length: D }, (_, d) => v[n * D + d]!))

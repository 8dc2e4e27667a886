/**
 * The golden format (diffusion-sampler-golden/v1): decoding at the boundary, the noise schedule it
 * describes, and the map from each reference run (family + params) to stepwise's own constructors.
 * Reference outputs are never read to produce an output; they are only compared against.
 */
import * as t from 'io-ts'
import * as Gmm from '../core/Gmm.ts'
import * as MR from '../models/MeanReverting.ts'
import * as NS from '../core/NoiseSchedule.ts'
import type * as S from '../schedule/SolverSchedule.ts'
import * as Dpm from '../solvers/Dpm.ts'
import * as K from '../solvers/K.ts'
import * as U from '../solvers/UniPC.ts'
import { decodeOrThrow } from '../core/Codec.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

const Matrix = t.array(t.array(t.number))

/** the `problem` record */
export const ProblemC = t.type({
  K: t.number,
  D: t.number,
  weights: t.array(t.number),
  means: Matrix,
  variances: Matrix,
})

/** a noise schedule spec (a problem file's `schedule`; also a model card's) */
export const ScheduleC = t.union([
  t.intersection([t.type({ name: t.literal('discrete'), betas: t.array(t.number) }), t.partial({ t_array: t.array(t.number), log_alpha_array: t.array(t.number), T: t.number, t_0: t.number })]),
  t.intersection([t.type({ name: t.literal('linear') }), t.partial({ beta_0: t.number, beta_1: t.number, T: t.number, t_0: t.number })]),
  t.intersection([
    t.type({ name: t.literal('mean_reverting'), lambda_inf: t.number }),
    t.partial({ theta: t.union([t.literal('cosine'), t.literal('linear'), t.literal('constant')]), alpha_T: t.number, T: t.number, t_0: t.number }),
  ]),
])

/**
 * what `sample` and `search` need: a problem and a schedule (other keys ignored); a mean_reverting schedule also
 * needs `mu`, the condition: one row of D numbers for every sample, or one row per sample (N × D, like x_T)
 */
export const ProblemFileC = t.intersection([t.type({ problem: ProblemC, schedule: ScheduleC }), t.partial({ mu: t.union([t.array(t.number), Matrix]) })])

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

/** a decoded problem file: the mixture and its noise schedule */
export type ProblemFile = t.TypeOf<typeof ProblemFileC>
/** a decoded golden file */
export type Golden = t.TypeOf<typeof GoldenC>
/** one reference run of a golden file */
export type Run = t.TypeOf<typeof RunC>

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** decode a problem file (throws a path-naming error) */
export const decodeProblem = (u: unknown): ProblemFile => decodeOrThrow(ProblemFileC, 'problem file')(u)
/** decode a golden file (throws a path-naming error) */
export const decodeGolden = (u: unknown): Golden => decodeOrThrow(GoldenC, 'golden file')(u)

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the noise schedule of a problem file, over its [t_0, T] */
export const noiseSchedule = (f: ProblemFile): NS.NoiseSchedule => noiseScheduleOf(f.schedule)

/** the noise schedule of a schedule spec, over its [t_0, T] (defaults 1, 1e-3) */
export const noiseScheduleOf = (s: t.TypeOf<typeof ScheduleC>): NS.NoiseSchedule => {
  const ns =
    s.name === 'discrete'
      ? NS.vpDiscrete({
          betas: s.betas,
          ...(s.t_array === undefined ? {} : { tArray: s.t_array }),
          ...(s.log_alpha_array === undefined ? {} : { logAlphaArray: s.log_alpha_array }),
        })
      : s.name === 'linear'
        ? NS.vpLinear(s.beta_0 ?? 0.1, s.beta_1 ?? 20)
        : MR.schedule({ lambdaInf: s.lambda_inf, ...(s.theta === undefined ? {} : { theta: s.theta }), ...(s.alpha_T === undefined ? {} : { alphaT: s.alpha_T }) })
  return NS.withRange(s.T ?? 1, s.t_0 ?? 1e-3)(ns)
}

/** the condition μ of a mean-reverting problem for N rows (row-major N·D), undefined for the other schedules; throws on a mismatch */
export const muOf = (f: ProblemFile, N: number): Float64Array | undefined => {
  const mr = f.schedule.name === 'mean_reverting'
  if (f.mu === undefined) {
    if (mr) throw new Error('a mean_reverting schedule needs the condition: add "mu" (D numbers for every row, or N rows of D like x_T)')
    return undefined
  }
  if (!mr) throw new Error(`"mu" is the condition of a mean_reverting schedule (schedule is ${f.schedule.name}); remove it`)
  const flat = f.mu.flat()
  const D = f.problem.D
  if (!(flat.length === D || flat.length === N * D)) throw new Error(`"mu" has ${flat.length} numbers; expected D = ${D} (one condition for every row) or N·D = ${N * D} (one row per sample)`)
  return MR.rowsOf(flat, N, D)
}

/** the mixture of a problem file */
export const gmm = (f: ProblemFile): Gmm.Gmm => f.problem

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

/**
 * The named solvers by stable kebab-case id. Each is a constructor returning a schedule document,
 * so `explain`, `golden`, `search` and `sample` all work on the same value.
 */
import type * as S from '../schedule/SolverSchedule.ts'
import * as Deis from './Deis.ts'
import * as Dpm from './Dpm.ts'
import * as K from './K.ts'
import * as Learned from './Learned.ts'
import * as MeanReverting from './MeanReverting.ts'
import * as Momentum from './Momentum.ts'
import * as Pndm from './Pndm.ts'
import * as Stochastic from './Stochastic.ts'
import * as U from './UniPC.ts'
import type { GridKind } from './common.ts'
import * as P from './Params.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a parameter a named solver accepts through `--set key=value` (solvers/Params.ts) */
export type Param = P.Param

/** a named solver */
export interface Named {
  readonly id: string
  readonly label: string
  /** declared global convergence order (what the convergence law checks) */
  readonly order: number
  readonly defaultGrid: GridKind
  readonly params: Readonly<Record<string, Param>>
  /** what it needs from the model besides ε̂: 'ems' (DPM-Solver-v3's statistics; compile with { ems }); absent = any model */
  readonly needs?: ReadonlyArray<'ems'>
  /** the schedule at this budget; `set` is checked against `params` first (an unknown key or a bad value throws, naming the allowed ones) */
  readonly build: (o: { readonly nfe: number; readonly grid?: GridKind; readonly set?: Readonly<Record<string, string>> }) => S.SolverSchedule
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const parity = P.choice("'exact' (default) or 'reference' (halved second derivative, as the reference code)", ['exact', 'reference'])
const lofBelow = P.number('lower the order at the end when steps < this (reference 10; 0 = never; inf = always)', { min: 0, inf: true })
const finalCorrector = P.flag('apply the corrector at the last step too (+1 NFE)')

const num = P.num
const par = (set: P.Sets | undefined): 'exact' | 'reference' => P.word(set, 'parity', ['exact', 'reference'], 'exact')
const g = <T extends { readonly grid?: GridKind }>(o: T) => (o.grid === undefined ? {} : { grid: o.grid })

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

const multistep = (id: string, label: string, prediction: 'noise' | 'data', order: 2 | 3, ref: boolean): Named => ({
  id,
  label,
  order: order === 3 && !ref ? 3 : 2,
  defaultGrid: 'logSNR',
  params: order === 3 && !ref ? { parity, lowerOrderFinalBelow: lofBelow } : { lowerOrderFinalBelow: lofBelow },
  build: (o) =>
    Dpm.multistep({
      nfe: o.nfe,
      ...g(o),
      prediction,
      order,
      parity: ref ? 'reference' : par(o.set),
      lowerOrderFinalBelow: num(o.set, 'lowerOrderFinalBelow', 10),
    }),
})

const singlestep = (id: string, label: string, prediction: 'noise' | 'data', order: 2 | 3): Named => ({
  id,
  label,
  order,
  defaultGrid: 'logSNR',
  params: {},
  build: (o) => Dpm.singlestep({ nfe: o.nfe, ...g(o), prediction, order }),
})

/**
 * UniPC as the reference builds it lowers the order at the end and skips the corrector at the last
 * step, so its last step is DDIM (local O(h²)): global order 2 whatever p (measured, laws/convergence);
 * with finalCorrector the last step is UniP-1 + UniC-1 and the rate is min(p + 1, 3)
 */
const unipc = (variant: U.Variant, order: number): Named => ({
  id: `unipc-${variant}-${order}`,
  label: `UniPC-${order} ${variant}`,
  order: 2,
  defaultGrid: 'logSNR',
  params: { finalCorrector },
  build: (o) => U.unipc({ nfe: o.nfe, ...g(o), variant, order, finalCorrector: P.bool(o.set, 'finalCorrector', false) }),
})

/** the deterministic solvers of the Core issue, in display order */
const core: ReadonlyArray<Named> = [
  { id: 'ddim', label: 'DDIM = DPM-Solver-1', order: 1, defaultGrid: 'time_uniform', params: {}, build: (o) => Dpm.ddim({ nfe: o.nfe, ...g(o) }) },
  singlestep('dpm-2s', 'DPM-Solver-2 (singlestep, noise)', 'noise', 2),
  singlestep('dpm-3s', 'DPM-Solver-3 (singlestep, noise)', 'noise', 3),
  multistep('dpm-2m', 'DPM-Solver-2M (noise)', 'noise', 2, false),
  multistep('dpm-3m', 'DPM-Solver-3M (noise, exact 3rd order)', 'noise', 3, false),
  multistep('dpm-3m-ref', 'DPM-Solver-3M (noise, reference: halved 2nd derivative)', 'noise', 3, true),
  singlestep('dpmpp-2s', 'DPM-Solver++(2S)', 'data', 2),
  singlestep('dpmpp-3s', 'DPM-Solver++(3S)', 'data', 3),
  multistep('dpmpp-2m', 'DPM-Solver++(2M)', 'data', 2, false),
  multistep('dpmpp-3m', 'DPM-Solver++(3M) (exact 3rd order)', 'data', 3, false),
  multistep('dpmpp-3m-ref', 'DPM-Solver++(3M) (reference: halved 2nd derivative)', 'data', 3, true),
  unipc('bh1', 1),
  unipc('bh1', 2),
  unipc('bh1', 3),
  unipc('bh2', 1),
  unipc('bh2', 2),
  unipc('bh2', 3),
  { id: 'euler', label: 'Euler (k-diffusion, σ̄)', order: 1, defaultGrid: 'karras', params: {}, build: (o) => K.euler({ nfe: o.nfe, ...g(o) }) },
  { id: 'heun', label: 'Heun (k-diffusion, σ̄)', order: 2, defaultGrid: 'karras', params: {}, build: (o) => K.heun({ nfe: o.nfe, ...g(o) }) },
  { id: 'dpm2', label: 'DPM-2 (k-diffusion)', order: 2, defaultGrid: 'karras', params: {}, build: (o) => K.dpm2({ nfe: o.nfe, ...g(o) }) },
  {
    id: 'lms',
    label: 'LMS (k-diffusion, order 4 in σ̄)',
    order: 4,
    defaultGrid: 'karras',
    params: { order: P.number('number of ε’s interpolated (1–6, default 4)', { min: 1, max: 6, integer: true, examples: ['1', '2', '3', '4', '5'] }) },
    build: (o) => K.lms({ nfe: o.nfe, ...g(o), order: num(o.set, 'order', 4) }),
  },
  { id: 'k-dpmpp-2m', label: 'DPM++(2M) (k-diffusion)', order: 2, defaultGrid: 'karras', params: {}, build: (o) => K.dpmpp2m({ nfe: o.nfe, ...g(o) }) },
  {
    id: 'k-dpmpp-3m',
    label: 'DPM++(3M) (k-diffusion, η = 0, exact 3rd order)',
    order: 3,
    defaultGrid: 'karras',
    params: { parity },
    build: (o) => K.dpmpp3m({ nfe: o.nfe, ...g(o), parity: par(o.set) }),
  },
  { id: 'k-dpmpp-3m-ref', label: 'DPM++(3M) (k-diffusion, η = 0, reference)', order: 2, defaultGrid: 'karras', params: {}, build: (o) => K.dpmpp3m({ nfe: o.nfe, ...g(o), parity: 'reference' }) },
  { id: 'plms', label: 'PLMS / PNDM (diffusers, AB4 on ε)', order: 2, defaultGrid: 'time_uniform', params: {}, build: (o) => Pndm.plms({ nfe: o.nfe, ...g(o) }) },
  { id: 'ipndm', label: 'iPNDM (AB4 on ε)', order: 2, defaultGrid: 'time_uniform', params: {}, build: (o) => Pndm.ipndm({ nfe: o.nfe, ...g(o) }) },
  { id: 'deis-tab1', label: 'DEIS tAB1', order: 2, defaultGrid: 'time_quadratic', params: {}, build: (o) => Deis.tab({ nfe: o.nfe, ...g(o), r: 1 }) },
  { id: 'deis-tab2', label: 'DEIS tAB2', order: 3, defaultGrid: 'time_quadratic', params: {}, build: (o) => Deis.tab({ nfe: o.nfe, ...g(o), r: 2 }) },
  { id: 'deis-tab3', label: 'DEIS tAB3', order: 4, defaultGrid: 'time_quadratic', params: {}, build: (o) => Deis.tab({ nfe: o.nfe, ...g(o), r: 3 }) },
  ...[1, 2, 3].map((r): Named => ({
    id: `deis-logrho${r}`,
    label: `DEIS ρAB${r} (Lagrange in log ρ, diffusers DEISMultistepScheduler)`,
    order: r + 1,
    defaultGrid: 'logSNR',
    params: { lowerOrderFinalBelow: lofBelow },
    build: (o) => Deis.rhoAB({ nfe: o.nfe, ...g(o), r, lowerOrderFinalBelow: num(o.set, 'lowerOrderFinalBelow', 0) }),
  })),
]

/** a named solver whose build checks its `set` against its parameters first (Params.check: the one `--set` parser) */
const checked = (n: Named): Named => ({ ...n, build: (o) => n.build({ ...o, set: P.check(n.id, n.params, o.set) }) })

/** every named solver, in display order: the deterministic core, then each family's module */
export const all: ReadonlyArray<Named> = [...core, ...Stochastic.named, ...Momentum.named, ...MeanReverting.named, ...Learned.named].map(checked)

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** a named solver by id */
export const byId = (id: string): Named | undefined => all.find((n) => n.id === id)

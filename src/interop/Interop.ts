/**
 * Sampler names of other tools → stepwise: diffusers scheduler classes, k-diffusion functions,
 * AUTOMATIC1111/Forge labels ("DPM++ 2M Karras") and ComfyUI sampler names ("dpmpp_2m"). A table
 * of entries with aliases; lookup is case-, space-, '-' and '_'-insensitive, and a trailing
 * schedule word (Karras, Exponential, …) selects the grid.
 */
import type * as G from '../core/Grid.ts'
import * as Solvers from '../solvers/index.ts'
import { suggest } from '../core/Codec.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * how a stepwise solver relates to the named sampler: 'same' (the same updates on the same grid kind),
 * 'closest' (same family, a stated difference), 'stochastic' (needs noise injection: the stochastic
 * solvers), 'missing' (no stepwise counterpart yet)
 */
export type Relation = 'same' | 'closest' | 'stochastic' | 'missing'

/** one sampler as other tools name it */
export interface Entry {
  /** a display name */
  readonly name: string
  /** every spelling: diffusers class, k-diffusion function, A1111 label, ComfyUI name */
  readonly aliases: ReadonlyArray<string>
  readonly relation: Relation
  /** the stepwise solver id ('same'/'closest'), or the ids a stochastic/missing entry would use once built */
  readonly stepwise: ReadonlyArray<string>
  /** what differs, or what is needed */
  readonly note: string
  /** stepwise grid the tool uses by default, if any */
  readonly grid?: G.Spacing
}

/** a resolved lookup */
export interface Match {
  readonly query: string
  readonly entry: Entry
  /** the stepwise solver to use now (absent for stochastic/missing entries whose solver is not built) */
  readonly solver?: string
  /** the grid implied by a schedule suffix (Karras, Exponential, …) or the tool's default */
  readonly grid?: G.Spacing
  /** the schedule suffix that was recognised, e.g. 'Karras' */
  readonly suffix?: string
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** the table */
export const entries: ReadonlyArray<Entry> = [
  {
    name: 'DDIM',
    aliases: ['DDIM', 'DDIMScheduler', 'ddim', 'ddim_uniform'],
    relation: 'same',
    stepwise: ['ddim'],
    note: 'DDIM (η = 0) = DPM-Solver-1 = Euler in σ̄; diffusers: stepwise from-diffusers reproduces its timesteps',
  },
  {
    name: 'PLMS / PNDM',
    aliases: ['PLMS', 'PNDMScheduler', 'PNDM', 'plms'],
    relation: 'same',
    stepwise: ['plms'],
    note: 'diffusers PNDM with skip_prk_steps (PLMS): first step DDIM + trapezoid re-evaluated, then AB2–AB4 on ε',
  },
  {
    name: 'Euler',
    aliases: ['Euler', 'EulerDiscreteScheduler', 'sample_euler', 'euler', 'EDMEulerScheduler'],
    relation: 'same',
    stepwise: ['euler'],
    grid: 'karras',
    note: 'Euler in σ̄ with s_churn = 0 (the default); with churn > 0 see euler-churn',
  },
  {
    name: 'Euler a',
    aliases: ['Euler a', 'Euler Ancestral', 'EulerAncestralDiscreteScheduler', 'sample_euler_ancestral', 'euler_ancestral', 'euler_ancestral_cfg_pp'],
    relation: 'stochastic',
    stepwise: ['euler-ancestral'],
    note: 'ancestral Euler: noise injected every step (docs/math.md#ancestral); its deterministic counterpart is euler (η = 0); stepwise from-diffusers CONFIG.json reproduces EulerAncestralDiscreteScheduler given the same draws',
  },
  {
    name: 'Heun',
    aliases: ['Heun', 'HeunDiscreteScheduler', 'sample_heun', 'heun'],
    relation: 'same',
    stepwise: ['heun'],
    grid: 'karras',
    note: 'Heun in σ̄ (2 NFE per interval, the last interval Euler into σ = 0 in k-diffusion and diffusers); stepwise from-diffusers CONFIG.json reproduces HeunDiscreteScheduler',
  },
  {
    name: 'DPM2',
    aliases: ['DPM2', 'KDPM2DiscreteScheduler', 'sample_dpm_2', 'dpm_2'],
    relation: 'same',
    stepwise: ['dpm2'],
    grid: 'karras',
    note: 'DPM-2: Euler to the λ-midpoint, then the full step with the midpoint’s ε; stepwise from-diffusers CONFIG.json reproduces KDPM2DiscreteScheduler',
  },
  {
    name: 'DPM2 a',
    aliases: ['DPM2 a', 'KDPM2AncestralDiscreteScheduler', 'sample_dpm_2_ancestral', 'dpm_2_ancestral'],
    relation: 'stochastic',
    stepwise: ['dpm2-ancestral'],
    note: 'ancestral DPM-2: noise injected every step (docs/math.md#ancestral); its deterministic counterpart is dpm2',
  },
  {
    name: 'LMS',
    aliases: ['LMS', 'LMSDiscreteScheduler', 'sample_lms', 'lms'],
    relation: 'same',
    stepwise: ['lms'],
    grid: 'karras',
    note: 'linear multistep in σ̄, order 4 (k-diffusion; diffusers LMSDiscreteScheduler integrates the same Lagrange polynomials, its last step into σ = 0 too: stepwise from-diffusers reproduces it)',
  },
  {
    name: 'DPM fast',
    aliases: ['DPM fast', 'sample_dpm_fast', 'dpm_fast'],
    relation: 'closest',
    stepwise: ['dpm-3s'],
    note: 'DPM-Solver-fast (singlestep, noise prediction, orders 3…3,2,1) on the logSNR grid; k-diffusion runs it in t = −log σ̄ with the same orders',
  },
  {
    name: 'DPM adaptive',
    aliases: ['DPM adaptive', 'sample_dpm_adaptive', 'dpm_adaptive'],
    relation: 'missing',
    stepwise: ['dpm-adaptive'],
    note: 'adaptive step size (DPM-Solver-12/23, docs/math.md#adaptive) is not built; a fixed-budget alternative is dpm-3s',
  },
  {
    name: 'DPM++ 2S a',
    aliases: ['DPM++ 2S a', 'sample_dpmpp_2s_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_2s_ancestral_cfg_pp'],
    relation: 'stochastic',
    stepwise: ['dpmpp-2s-ancestral'],
    note: 'ancestral DPM-Solver++(2S): noise injected every step (docs/math.md#ancestral); its deterministic counterpart is dpmpp-2s',
  },
  {
    name: 'DPM++ 2S',
    aliases: ['DPMSolverSinglestepScheduler', 'DPM++ 2S'],
    relation: 'same',
    stepwise: ['dpmpp-2s'],
    note: 'DPM-Solver++(2S) singlestep; diffusers DPMSolverSinglestepScheduler takes its inner points from the timestep grid (stepwise from-diffusers CONFIG.json reproduces it, orders 1–3)',
  },
  {
    name: 'DPM++ 2M',
    aliases: ['DPM++ 2M', 'sample_dpmpp_2m', 'dpmpp_2m'],
    relation: 'same',
    stepwise: ['k-dpmpp-2m'],
    note: 'k-diffusion DPM-Solver++(2M): first step DDIM, no lower-order final step',
  },
  {
    name: 'DPMSolverMultistepScheduler',
    aliases: ['DPMSolverMultistepScheduler', 'DPM-Solver++', 'DPMSolver++', 'dpmsolver++', 'EDMDPMSolverMultistepScheduler'],
    relation: 'same',
    stepwise: ['dpmpp-2m'],
    note: 'diffusers DPM-Solver++(2M) (solver_order 2, midpoint, lower order at the end below 15 steps); stepwise from-diffusers CONFIG.json reproduces a config exactly (timesteps, final σ, order 1–3)',
  },
  {
    name: 'DPM++ 3M',
    aliases: ['DPM++ 3M'],
    relation: 'same',
    stepwise: ['k-dpmpp-3m-ref'],
    note: 'DPM++(3M) as k-diffusion computes it (halved second derivative); k-dpmpp-3m is the exact third-order method',
  },
  {
    name: 'DPM++ SDE',
    aliases: ['DPM++ SDE', 'DPMSolverSDEScheduler', 'sample_dpmpp_sde', 'dpmpp_sde', 'dpmpp_sde_gpu'],
    relation: 'stochastic',
    stepwise: ['dpmpp-sde'],
    note: 'DPM-Solver++(SDE): two ancestral DPM-Solver++ half steps with Brownian-tree noise (docs/math.md#sde); its deterministic counterpart is dpmpp-2s',
  },
  {
    name: 'DPM++ 2M SDE',
    aliases: ['DPM++ 2M SDE', 'DPM++ 2M SDE Heun', 'sample_dpmpp_2m_sde', 'dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'sde-dpmsolver++'],
    relation: 'stochastic',
    stepwise: ['sde-dpmpp-2m'],
    note: 'SDE-DPM-Solver++(2M) (docs/math.md#sde); with η = 0 it is k-dpmpp-2m; diffusers DPMSolverMultistepScheduler with algorithm_type sde-dpmsolver++: stepwise from-diffusers reproduces it given the same draws',
  },
  {
    name: 'DPM++ 3M SDE',
    aliases: ['DPM++ 3M SDE', 'sample_dpmpp_3m_sde', 'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu'],
    relation: 'stochastic',
    stepwise: ['sde-dpmpp-3m'],
    note: 'SDE-DPM-Solver++(3M) (docs/math.md#sde); with η = 0 it is k-dpmpp-3m-ref (k-dpmpp-3m: the exact third-order method)',
  },
  {
    name: 'UniPC',
    aliases: ['UniPC', 'uni_pc', 'sample_unipc'],
    relation: 'same',
    stepwise: ['unipc-bh1-3'],
    note: 'UniPC order 3, B(h) = bh1 (A1111 and ComfyUI defaults); UniC after every step but the last',
  },
  {
    name: 'UniPC bh2',
    aliases: ['uni_pc_bh2', 'UniPC bh2'],
    relation: 'same',
    stepwise: ['unipc-bh2-3'],
    note: 'UniPC order 3 with B(h) = bh2',
  },
  {
    name: 'UniPCMultistepScheduler',
    aliases: ['UniPCMultistepScheduler'],
    relation: 'same',
    stepwise: ['unipc-bh2-2'],
    note: 'diffusers UniPC (solver_order 2, bh2, predict_x0); stepwise from-diffusers CONFIG.json reproduces a config exactly',
  },
  {
    name: 'DEIS',
    aliases: ['DEIS', 'deis'],
    relation: 'closest',
    stepwise: ['deis-tab2'],
    note: 'DEIS with ε interpolated by a Lagrange polynomial in t (tAB); the DEIS paper’s ρAB interpolates in ρ (lms, basis rho) and diffusers’ DEISMultistepScheduler in log ρ (deis-logrho2)',
  },
  {
    name: 'DEISMultistepScheduler',
    aliases: ['DEISMultistepScheduler'],
    relation: 'same',
    stepwise: ['deis-logrho2'],
    note: 'diffusers DEIS (solver_order 2, logrho): ε interpolated in log ρ = −λ, i.e. the exact λ-Lagrange noise-form step; stepwise from-diffusers CONFIG.json reproduces a config exactly',
  },
  {
    name: 'iPNDM',
    aliases: ['iPNDM', 'IPNDMScheduler', 'ipndm'],
    relation: 'same',
    stepwise: ['ipndm'],
    note: 'improved PNDM: AB weights of order min(i+1, 4) on ε, DDIM transfer',
  },
  {
    name: 'iPNDM-v',
    aliases: ['ipndm_v'],
    relation: 'closest',
    stepwise: ['ipndm'],
    note: 'ComfyUI ipndm_v uses variable-step AB weights; stepwise ipndm uses the equal-step weights',
  },
  {
    name: 'Flow Euler',
    aliases: ['FlowMatchEulerDiscreteScheduler', 'Flow Euler'],
    relation: 'same',
    stepwise: ['ddim'],
    note: 'flow Euler x ← x + (σ′ − σ)·u = DDIM on α = 1 − σ (docs/math.md#flow); stepwise from-diffusers reproduces the shifted σ’s',
  },
  {
    name: 'DDPM',
    aliases: ['DDPM', 'DDPMScheduler', 'ddpm'],
    relation: 'stochastic',
    stepwise: ['ddpm'],
    note: 'ancestral sampling with the posterior variance (docs/math.md#ancestral); its deterministic counterpart is ddim',
  },
  {
    name: 'LCM',
    aliases: ['LCM', 'LCMScheduler', 'lcm', 'TCDScheduler', 'TCD'],
    relation: 'missing',
    stepwise: ['lcm'],
    note: 'consistency-model sampling (denoise, then re-noise) is not built',
  },
  {
    name: 'Restart',
    aliases: ['Restart', 'restart'],
    relation: 'stochastic',
    stepwise: ['restart'],
    note: 'Restart sampling re-noises to an earlier level and integrates again',
  },
]

/** schedule words that A1111/ComfyUI append to a sampler name, and the stepwise grid each means */
export const suffixes: ReadonlyArray<readonly [string, G.Spacing | undefined]> = [
  ['Karras', 'karras'],
  ['Exponential', 'logSNR'],
  ['Polyexponential', undefined],
  ['SGM Uniform', 'time_uniform'],
  ['Uniform', 'time_uniform'],
  ['Simple', 'time_uniform'],
  ['Normal', 'time_uniform'],
  ['Align Your Steps', undefined],
  ['AYS', undefined],
  ['Beta', undefined],
]

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the lookup key: lower case, without spaces, '-', '_' and a leading 'sample_' (k-diffusion) */
export const key = (name: string): string =>
  name
    .toLowerCase()
    .replace(/^\s*sample_/, '')
    .replace(/[\s_\-]+/g, '')

const byKey: ReadonlyMap<string, Entry> = new Map(entries.flatMap((e) => e.aliases.map((a) => [key(a), e] as const)))

/** the first of an entry's stepwise ids that is built */
const built = (e: Entry): string | undefined => e.stepwise.find((id) => Solvers.byId(id) !== undefined)

/** look a sampler up: exact alias first, then with a schedule suffix removed ("DPM++ 2M Karras" → DPM++ 2M on the Karras grid) */
export const lookup = (query: string): Match | undefined => {
  const direct = byKey.get(key(query))
  const match = (entry: Entry, suffix?: string, grid?: G.Spacing): Match => {
    const solver = built(entry)
    const g = suffix === undefined ? entry.grid : grid
    return { query, entry, ...(solver === undefined ? {} : { solver }), ...(g === undefined ? {} : { grid: g }), ...(suffix === undefined ? {} : { suffix }) }
  }
  if (direct !== undefined) return match(direct)
  const q = query.trim()
  for (const [word, grid] of suffixes) {
    if (!q.toLowerCase().endsWith(word.toLowerCase())) continue
    const head = q.slice(0, q.length - word.length)
    const e = byKey.get(key(head))
    if (e !== undefined) return match(e, word, grid)
  }
  return undefined
}

/** the known spellings closest to a query (for "did you mean") */
export const nearest = (query: string): ReadonlyArray<string> => {
  const all = entries.flatMap((e) => e.aliases)
  const k = key(query)
  const byPrefix = all.filter((a) => k.length >= 3 && (key(a).startsWith(k) || k.startsWith(key(a))))
  const close = suggest(query, all)
  return [...new Set([...(close === undefined ? [] : [close]), ...byPrefix])].slice(0, 5)
}

/** a human-readable account of a match: what stepwise runs, how it relates, the command that prints it */
export const describe = (m: Match, nfe = 20): string => {
  const e = m.entry
  const head = `${m.query}${m.suffix === undefined ? '' : ` (${e.name}, ${m.suffix} schedule)`}`
  if (m.solver === undefined)
    return `${head}: ${e.relation === 'stochastic' ? 'a stochastic sampler: it needs the stochastic solvers, which are not built yet' : 'no stepwise solver yet'}\n  ${e.note}`
  const named = Solvers.byId(m.solver)
  const grid = m.suffix !== undefined && m.grid === undefined ? '' : m.grid === undefined ? '' : ` --grid ${m.grid}`
  const rel = e.relation === 'same' ? 'same updates' : e.relation === 'closest' ? 'closest' : e.relation === 'stochastic' ? 'stochastic' : 'built'
  return [
    `${head} → ${m.solver}${named === undefined ? '' : ` (${named.label})`}${m.grid === undefined ? '' : `, grid ${m.grid}`}`,
    `  ${rel}: ${e.note}`,
    ...(m.suffix !== undefined && m.grid === undefined ? [`  the ${m.suffix} schedule has no stepwise grid yet: pass explicit times (grid {spacing: explicit})`] : []),
    `  stepwise solvers --show ${m.solver} --nfe ${nfe}${grid}`,
  ].join('\n')
}

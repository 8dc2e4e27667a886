/**
 * Momentum and time-shift samplers next to their base solvers.
 * (1) mean L2 error vs the exact PF-ODE endpoint at NFE 5/10/20 on the `npm start` problems (2-D K = 3 and
 *     16-D K = 4 mixtures, VP linear, 256 rows, exact score; Compare.defaultProblems), each row on the base's grid;
 * (2) the divergence demonstration: a guided (stiff) Gaussian, CFG w on N(μ, s²·I) against N(μ, I), whose
 *     exact flow is closed-form; max |x − x_exact| over 64 rows at NFE 8–30, time-quadratic and logSNR grids.
 *
 *   node --import tsx bench/momentum.ts > out/momentum.md
 */
import * as Objective from '../src/search/Objective.ts'
import * as Compare from '../src/cli/compare.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import type * as S from '../src/schedule/SolverSchedule.ts'
import * as F from '../src/run/Float64.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as M from '../src/solvers/Momentum.ts'
import type { GridKind } from '../src/solvers/common.ts'

// -------------------------------------------------------------------------------------------------
// (1) side by side with the base solvers
// -------------------------------------------------------------------------------------------------

/** a table row: label, the grid, and the schedule at an NFE */
interface Row {
  readonly label: string
  readonly grid: GridKind
  readonly build: (nfe: number) => S.SolverSchedule
}

const named = (id: string, set: Readonly<Record<string, string>> = {}, grid?: GridKind): Row => {
  const n = Solvers.byId(id)!
  const g = grid ?? n.defaultGrid
  const label = `${id}${Object.entries(set)
    .map(([k, v]) => ` ${k}=${v}`)
    .join('')}`
  return { label, grid: g, build: (nfe) => n.build({ nfe, grid: g, set }) }
}

const groups: ReadonlyArray<readonly [string, ReadonlyArray<Row>]> = [
  [
    'PLMS / ρ-Euler (time_uniform)',
    [
      named('ipndm'),
      named('ghvb', { order: '4' }),
      named('hb', { beta: '0.8' }),
      named('nt', { beta: '0.8' }),
      named('ghvb', { order: '3.8' }),
      named('ghvb', { order: '2' }),
      named('ghvb', { order: '1.8' }),
      named('ghvb', { order: '1.5' }),
    ],
  ],
  [
    'DPM-Solver++(2M) (logSNR)',
    [
      named('dpmpp-2m'),
      named('hb', { base: 'dpmpp-2m', beta: '0.8' }, 'logSNR'),
      named('nt', { base: 'dpmpp-2m', beta: '0.8' }, 'logSNR'),
      named('ghvb', { base: 'dpmpp-2m', order: '1.8' }, 'logSNR'),
      named('ghvb', { base: 'dpmpp-2m', order: '1.5' }, 'logSNR'),
    ],
  ],
  [
    'UniPC-2 bh2, data (logSNR)',
    [
      named('unipc-bh2-2'),
      named('hb', { base: 'unipc', beta: '0.8' }, 'logSNR'),
      named('hb', { base: 'unipc', beta: '0.8', parity: 'reference' }, 'logSNR'),
      named('nt', { base: 'unipc', beta: '0.8' }, 'logSNR'),
      named('ghvb', { base: 'unipc', order: '1.8' }, 'logSNR'),
    ],
  ],
  [
    'time shift (TS-DPM defaults)',
    [named('ddim'), named('time-shift-ddim'), named('plms'), named('time-shift-pndm'), named('dpmpp-2m'), named('time-shift-dpmpp-2m'), named('time-shift-dpmpp-2m', { parity: 'reference' })],
  ],
]

const NFES = [5, 10, 20] as const
const fmt = (e: number): string => (Number.isFinite(e) ? e.toExponential(2) : 'diverged')

const errorTable = (): string => {
  const problems = Compare.defaultProblems(256)
  const head = `| solver | grid | ${problems.flatMap((p) => NFES.map((n) => `${p.name} NFE ${n}`)).join(' | ')} |`
  const lines = [head, `|---|---|${problems.flatMap(() => NFES.map(() => '---:')).join('|')}|`]
  for (const [title, rows] of groups) {
    lines.push(`| **${title}** | |${problems.flatMap(() => NFES.map(() => '')).join('|')}|`)
    for (const r of rows) {
      const cells = problems.flatMap((p) =>
        NFES.map((nfe) => {
          const prog = Prog.compileOrThrow(p.ns, 'eps')(r.build(nfe))
          const x = F.run(prog, Gmm.eps(p.gmm), { D: p.gmm.D })(p.xT).x
          return `${fmt(Objective.meanL2(p.gmm.D, x, p.exact))}${prog.nfe !== nfe ? '†' : ''}`
        }),
      )
      lines.push(`| ${r.label} | ${r.grid} | ${cells.join(' | ')} |`)
    }
  }
  return lines.join('\n')
}

// -------------------------------------------------------------------------------------------------
// (2) divergence
// -------------------------------------------------------------------------------------------------

const D = 4
const MU = 0.5

/** ε̂ = (1 − w)·ε̂(N(μ, I)) + w·ε̂(N(μ, s²·I)) and its exact endpoint (laws/momentum.law.ts) */
const guided = (w: number, s2: number) => {
  const u = Gmm.eps(Gmm.gaussian(D, MU, 1))
  const c = Gmm.eps(Gmm.gaussian(D, MU, s2))
  const model: F.Model = (x, at) => {
    const [eu, ec] = [u(x, at), c(x, at)]
    return eu.map((v, q) => (1 - w) * v + w * ec[q]!)
  }
  const exact = (a: NS.Point, b: NS.Point, x: Float64Array): Float64Array => {
    const [r0, r1] = [a.sigma / a.alpha, b.sigma / b.alpha]
    const k = ((1 + r1 * r1) / (1 + r0 * r0)) ** ((1 - w) / 2) * ((s2 + r1 * r1) / (s2 + r0 * r0)) ** (w / 2)
    return x.map((v) => b.alpha * (MU + (v / a.alpha - MU) * k))
  }
  return { model, exact }
}

const divergence = (w: number, s2: number, grid: GridKind): string => {
  const ns = NS.vpLinear()
  const g = guided(w, s2)
  const xT = Gmm.normals(64 * D, 7)
  const rows: ReadonlyArray<readonly [string, (nfe: number) => S.SolverSchedule]> = [
    ['DDIM (PLMS-1)', (nfe) => M.plmsK({ nfe, k: 1, grid })],
    ['PLMS-2', (nfe) => M.plmsK({ nfe, k: 2, grid })],
    ['PLMS-4 (iPNDM)', (nfe) => M.plmsK({ nfe, k: 4, grid })],
    ['HB β 0.5 (k 4)', (nfe) => M.heavyBall({ nfe, kind: 'hb', beta: 0.5, base: 'plms', k: 4, grid })],
    ['NT β 0.5 (k 4)', (nfe) => M.heavyBall({ nfe, kind: 'nt', beta: 0.5, base: 'plms', k: 4, grid })],
    ...[3.8, 3.5, 2.5, 1.8, 1.5, 0.5].map((o) => [`GHVB ${o}`, (nfe: number) => M.ghvb({ nfe, order: o, base: 'plms', grid })] as const),
    ['DPM-Solver++(2M)', (nfe) => ({ ...Solvers.byId('dpmpp-2m')!.build({ nfe, grid }) })],
    ['GHVB 1.5 on 2M', (nfe) => M.ghvb({ nfe, order: 1.5, base: 'dpmpp-2m', grid })],
  ]
  const nfes = [8, 10, 12, 15, 20, 30]
  const lines = [`| solver | ${nfes.map((n) => `NFE ${n}`).join(' | ')} |`, `|---|${nfes.map(() => '---:').join('|')}|`]
  for (const [label, build] of rows) {
    const cells = nfes.map((nfe) => {
      const p = Prog.compileOrThrow(ns, 'eps')(build(nfe))
      try {
        const x = F.run(p, g.model, { D })(xT).x
        const ex = g.exact(p.points[0]!, p.points[p.points.length - 1]!, xT)
        return fmt(Math.max(...x.map((v, q) => Math.abs(v - ex[q]!))))
      } catch {
        return 'diverged'
      }
    })
    lines.push(`| ${label} | ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

const t0 = performance.now()
console.log(`## Error vs the exact endpoint (mean L2, 256 rows; † = the solver spent another NFE)\n\n${errorTable()}\n`)
for (const [w, s2, grid] of [
  [5, 1e-3, 'time_quadratic'],
  [5, 1e-3, 'logSNR'],
  [1, 1e-3, 'time_quadratic'],
] as const)
  console.log(`## Guided Gaussian w = ${w}, s² = ${s2}, ${grid} grid: max |x − x_exact| (64 rows, data scale 0.5)\n\n${divergence(w, s2, grid)}\n`)
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s, node ${process.version})`)

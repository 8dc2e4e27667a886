/**
 * Every main named solver (the deterministic core and DPM-Solver-v3 with the model's EMS; the
 * stochastic, momentum and mean-reverting families are left out) on the shipped
 * learned denoisers at NFE 5/10/20: mean L2 distance to a fine solve of the same learned ODE (exact
 * DPM-Solver++(3M) at NFE 400, checked against NFE 800), Float64 interpreter, x_T ~ N(0, I).
 * For the 8-D mixture it also reports how far the learned ODE's endpoint is from the exact-score
 * ODE's endpoint (the model error that exact-score benchmarks hide). Writes the section that
 * bench/RESULTS.md holds ("Solvers on the learned denoisers") to --out (default bench/RESULTS.learned.md).
 *
 *   node --import tsx bench/learned.ts [--rows 256] [--out FILE]
 */
import { renameSync, writeFileSync } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as DpmV3 from '../src/core/DpmV3.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as L from '../src/models/Learned.ts'
import * as Prog from '../src/run/Program.ts'
import * as Ref from '../src/models/Reference.ts'
import * as F from '../src/run/Float64.ts'
import * as MeanReverting from '../src/solvers/MeanReverting.ts'
import * as Momentum from '../src/solvers/Momentum.ts'
import * as Stochastic from '../src/solvers/Stochastic.ts'
import * as Solvers from '../src/solvers/index.ts'

const arg = (k: string): string | undefined => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const ROWS = Number(arg('rows') ?? 256)
const OUT = arg('out') ?? path.join(import.meta.dirname, 'RESULTS.learned.md')
const NFES = [5, 10, 20]
const families: ReadonlyArray<Solvers.Named> = [...Stochastic.named, ...Momentum.named, ...MeanReverting.named]
const main = Solvers.all.filter((n) => !families.includes(n))

/** mean L2 distance per row */
const meanL2 = (a: Float64Array, b: Float64Array, D: number): number => {
  let acc = 0
  for (let r = 0; r < a.length / D; r++) {
    let s = 0
    for (let d = 0; d < D; d++) s += (a[r * D + d]! - b[r * D + d]!) ** 2
    acc += Math.sqrt(s)
  }
  return acc / (a.length / D)
}
const fmt = (v: number | undefined): string => (v === undefined ? 'n/a' : v.toExponential(2).replace('e-', 'e−'))

const t0 = performance.now()
const sections: string[] = []
const summary: string[] = []
for (const name of L.shipped) {
  const l = L.load(name)
  const ems = L.loadEms(name)
  const ns = L.scheduleOf(l)
  const D = l.D
  const model = L.eps(l)
  const xT = Gmm.normals(ROWS * D, 2024)
  const compile = (s: Parameters<ReturnType<typeof Prog.compile>>[0], e: DpmV3.Ems = ems) => Prog.compileOrThrow(ns, 'eps', { ems: e })(s)
  const run = (p: Prog.Program) => F.run(p, model, { D })(xT).x
  const fine = run(compile(Solvers.byId('dpmpp-3m')!.build({ nfe: 400 })))
  const check = meanL2(fine, run(compile(Solvers.byId('dpmpp-3m')!.build({ nfe: 800 }))), D)
  const degenerate = DpmV3.degenerate(ns, D)
  /** the main solvers, then v3 ablations: without correctors, and with degenerate EMS (the same decisions on x0: DPM-Solver++ + UniC-style corrector) */
  const entries = [
    ...main.map((sv) => ({ id: `\`${sv.id}\``, build: (nfe: number) => compile(sv.build({ nfe })) })),
    ...(['dpm-v3-2', 'dpm-v3-3'] as const).flatMap((id) => [
      { id: `\`${id}\` without corrector`, build: (nfe: number) => compile(Solvers.byId(id)!.build({ nfe, set: { corrector: 'false' } })) },
      { id: `\`${id}\` with degenerate EMS`, build: (nfe: number) => compile(Solvers.byId(id)!.build({ nfe }), degenerate) },
    ]),
  ]
  const rows = entries.flatMap((en) => {
    const errs = NFES.map((nfe) => {
      try {
        const p = en.build(nfe)
        return p.usesNoise || p.nfe > nfe ? undefined : meanL2(run(p), fine, D)
      } catch {
        return undefined
      }
    })
    return errs.every((e) => e === undefined) ? [] : [{ id: en.id, errs }]
  })
  const best = NFES.map((_, k) => Math.min(...rows.flatMap((r) => (r.errs[k] === undefined ? [] : [r.errs[k]!]))))
  const cell = (e: number | undefined, k: number) => (e !== undefined && e === best[k] ? `**${fmt(e)}**` : fmt(e))
  const table = [`| solver | ${NFES.map((n) => `NFE ${n}`).join(' | ')} |`, `|---|${NFES.map(() => '---:').join('|')}|`, ...rows.map((r) => `| ${r.id} | ${r.errs.map(cell).join(' | ')} |`)]
  const lines = [
    `## ${name} (${l.dataset.kind === 'spiral' ? `2-D ${l.dataset.arms}-arm spiral` : `${D}-D ${l.dataset.K}-component mixture`}, ${L.parameters(l)} parameters)`,
    '',
    `Reference: DPM-Solver++(3M) at NFE 400 on the learned ODE (its distance to NFE 800: ${fmt(check)}). ${ROWS} rows.`,
    '',
    ...table,
  ]
  if (l.dataset.kind === 'gmm') {
    const g = L.mixtureOf(l.dataset)
    const exact = Ref.endpointOf(ns)(g, xT)
    const learnedVsExact = meanL2(fine, exact, D)
    lines.push('', `Model error: the learned ODE's endpoint is ${fmt(learnedVsExact)} (mean L2) from the exact-score ODE's endpoint of the mixture it was trained on, from the same x_T.`)
    summary.push(`${name}: learned vs exact-score endpoint ${fmt(learnedVsExact)}`)
  }
  for (const [k, nfe] of NFES.entries()) {
    const e = (id: string) => rows.find((r) => r.id === `\`${id}\``)?.errs[k]
    const abl = (id: string, what: string) => rows.find((r) => r.id === `\`${id}\` ${what}`)?.errs[k]
    summary.push(
      `${name} NFE ${nfe}: dpm-v3-2 ${fmt(e('dpm-v3-2'))} (no corrector ${fmt(abl('dpm-v3-2', 'without corrector'))}, degenerate EMS ${fmt(abl('dpm-v3-2', 'with degenerate EMS'))}), ` +
        `dpm-v3-3 ${fmt(e('dpm-v3-3'))}, dpmpp-2m ${fmt(e('dpmpp-2m'))}, dpmpp-3m ${fmt(e('dpmpp-3m'))}, unipc-bh2-2 ${fmt(e('unipc-bh2-2'))}, unipc-bh2-3 ${fmt(e('unipc-bh2-3'))}`,
    )
  }
  sections.push(lines.join('\n'))
  console.log(`${name}: done (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
}

const doc = [
  '# Solvers on the learned denoisers',
  '',
  "Mean L2 distance of each named solver's endpoint to a fine solve of the *same learned* probability-flow ODE",
  '(VP-linear schedule, t from 1 to 1e-3, default grid of each solver, Float64 interpreter, x_T ~ N(0, I), seed 2024).',
  'The stochastic, momentum and mean-reverting families are left out (their own benchmarks); bold = best per column.',
  "`dpm-v3-*` use the model's EMS (`models/<name>.ems.json`, estimated by `scripts/ems.ts`).",
  '',
  `Produced by \`node --import tsx bench/learned.ts\` in ${((performance.now() - t0) / 1000).toFixed(0)} s on ${os.cpus().length} cores (load average ${os.loadavg()[0]!.toFixed(1)}).`,
  '',
  ...sections.flatMap((s) => [s, '']),
].join('\n')
writeFileSync(`${OUT}.tmp`, doc)
renameSync(`${OUT}.tmp`, OUT)
console.log(summary.join('\n'))
console.log(`→ ${OUT}`)

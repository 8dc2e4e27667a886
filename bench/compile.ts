/**
 * Compile cost and search throughput, side by side with another checkout of stepwise (e.g. the commit before the
 * combinator refactor) in one run, so machine noise hits both alike:
 *
 *   node --import tsx bench/compile.ts [--steps 1000,16000,64000] [--evals 3000] [--against ../old-checkout]
 *
 * (1) compile time per step of UniPC-bh2-3 (multistep order 3 with a pseudo corrector) on a logSNR grid of n steps;
 * (2) search evaluations per second: random candidates of the full USF space at NFE 8, compiled and scored on the
 *     golden d16_k4 linear problem (64 rows), the inner loop of `stepwise search`.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'

const { values } = parseArgs({ options: { steps: { type: 'string', default: '1000,16000,64000' }, evals: { type: 'string', default: '3000' }, against: { type: 'string' } } })
const stepsList = values.steps.split(',').map(Number)
const evals = Number(values.evals)

interface Lib {
  readonly label: string
  readonly compile: (ns: unknown, param: string) => (s: unknown) => { readonly nfe: number }
  readonly ns: unknown
  readonly unipc: (nfe: number) => unknown
  readonly evaluate: (n: number) => number
}

const load = async (root: string, label: string): Promise<Lib> => {
  const imp = (p: string) => import(pathToFileURL(path.join(root, 'src', p)).href)
  const [Prog, NS, Solvers, Space, Rng, Golden, Objective] = await Promise.all(
    ['Program.ts', 'NoiseSchedule.ts', 'solvers/index.ts', 'search/Space.ts', 'search/Rng.ts', 'Golden.ts', 'search/Objective.ts'].map(imp),
  )
  const compile = Prog.compileOrThrow ?? Prog.compile
  const pf = Golden.decodeProblem(JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', 'test', 'golden', 'd16_k4.linear.json'), 'utf8')))
  const ns = Golden.noiseSchedule(pf)
  const score = Objective.score(pf, Objective.batch('teacher')(pf, 64, 1))
  const sp = Space.full(8)
  return {
    label,
    compile,
    ns: NS.vpLinear(),
    unipc: (nfe) => Solvers.all.find((s: { id: string }) => s.id === 'unipc-bh2-3').build({ nfe }),
    evaluate: (n) => {
      const r = Rng.make(7)
      const t0 = performance.now()
      for (let k = 0; k < n; k++) score(Space.toSchedule(ns)(Space.random(sp)(r)))
      return (n / (performance.now() - t0)) * 1000
    },
  }
}

const here = await load(path.join(import.meta.dirname, '..'), 'this checkout')
const libs = values.against === undefined ? [here] : [here, await load(path.resolve(values.against), values.against)]

const perStep = (lib: Lib, n: number): number => {
  const s = lib.unipc(n)
  const t0 = performance.now()
  lib.compile(lib.ns, 'eps')(s)
  return ((performance.now() - t0) / n) * 1000
}

console.log('| steps | ' + libs.map((l) => `${l.label} µs/step`).join(' | ') + (libs.length > 1 ? ' | ratio |' : ' |'))
console.log('|---|' + libs.map(() => '---|').join('') + (libs.length > 1 ? '---|' : ''))
for (const n of stepsList) {
  for (const l of libs) perStep(l, Math.min(n, 500)) // warm up
  const us = libs.map((l) => perStep(l, n))
  console.log(`| ${n} | ${us.map((u) => u.toFixed(1)).join(' | ')}${us.length > 1 ? ` | ${(us[0]! / us[1]!).toFixed(3)} |` : ' |'}`)
}
console.log('')
for (const l of libs) l.evaluate(200) // warm up
// interleaved halves, so drift in machine load hits both
const rates = libs.map(() => [] as number[])
for (let rep = 0; rep < 2; rep++) libs.forEach((l, k) => rates[k]!.push(l.evaluate(evals / 2)))
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
console.log(
  `search evaluations/s (NFE 8, d16_k4, 64 rows): ${libs.map((l, k) => `${l.label} ${mean(rates[k]!).toFixed(0)}`).join(', ')}${libs.length > 1 ? `; ratio ${(mean(rates[0]!) / mean(rates[1]!)).toFixed(3)}` : ''}`,
)

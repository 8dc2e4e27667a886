// Compose DPM-Solver++(2M) by hand from per-step decisions, run it, and check it against the named one.
import { Float64, Gmm, Grid, NoiseSchedule, Program, SolverSchedule as S, Solvers } from '../src/index.ts'

const nfe = 10
const steps = Array.from({ length: nfe }, (_, i): S.StepDecision =>
  i === 0 || i === nfe - 1
    ? { prediction: 'data', order: 1 } // warm-up and lower order at the end
    : { prediction: 'data', order: 2, relaxation: 'dpmsolver-2' },
) // x0 at the last two points, ½-midpoint rule
const mine = S.make(Grid.logSNR(nfe), steps, 'my-2m')

const ns = NoiseSchedule.vpLinear()
const problem = Gmm.random(3, 2, 7)
const xT = Gmm.normals(2 * 8, 1)
const run = (s: S.SolverSchedule) => Float64.run(Program.compileOrThrow(ns, 'eps')(s), Gmm.eps(problem))(xT).x
const named = Solvers.byId('dpmpp-2m')!.build({ nfe, grid: 'logSNR', set: { lowerOrderFinalBelow: 'inf' } })
const diff = Math.max(...run(mine).map((v, k) => Math.abs(v - run(named)[k]!)))
console.log(`my 2M vs named dpmpp-2m: max |Δ| = ${diff.toExponential(2)}`)
if (diff > 1e-12) process.exitCode = 1

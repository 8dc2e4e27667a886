// Search a solver schedule for a model and an NFE budget (USF decision space), then compare it with
// DPM-Solver++(2M) on held-out start points. A tiny budget (600 evaluations, inline): a few seconds.
import { Golden, Solvers } from '../src/index.ts'
import { Evolution, Objective, Pool, Space } from '../src/search/index.ts'
import * as Gmm from '../src/core/Gmm.ts'

const g = Gmm.random(4, 8, 3) // an 8-D mixture of 4 Gaussians, exact score
const problem: Golden.ProblemFile = {
  problem: { K: g.K, D: g.D, weights: [...g.weights], means: g.means.map((r) => [...r]), variances: g.variances.map((r) => [...r]) },
  schedule: { name: 'linear' }, // VP linear β 0.1–20, T = 1 → t_0 = 1e-3
}
const nfe = 6
const space = Space.full(nfe) // every candidate is a valid schedule document with exactly 6 evaluations

// objective: mean L2 to the teacher (the exact PF-ODE endpoint, computed once) on 64 calibration rows
const calibration = Objective.teacher(problem, 64, 0)
const state = await Evolution.run({ ...Evolution.defaults(space, 0), strategy: 'evolution', budgetEvals: 600 }, Pool.inline(problem, calibration))

const ns = Golden.noiseSchedule(problem)
const searched = Space.toSchedule(ns, 'searched-nfe6')(state.best.candidate)
const heldOut = Objective.score(problem, Objective.teacher(problem, 256, 1)) // fresh start points
const mine = heldOut(searched)
const dpmpp2m = heldOut(Solvers.byId('dpmpp-2m')!.build({ nfe }))
console.log(`searched ${state.evals} schedules (${state.generation} generations); calibration error ${state.best.score.toExponential(2)}`)
console.log(`held-out mean L2 at NFE ${nfe}: searched ${mine.toExponential(2)}, DPM-Solver++(2M) ${dpmpp2m.toExponential(2)} (ratio ${(mine / dpmpp2m).toFixed(2)})`)
console.log(JSON.stringify(searched.steps))
if (!(mine < dpmpp2m)) process.exitCode = 1

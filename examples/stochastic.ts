// Stochastic samplers: the same schedule document with noise fields; seeded, batch-invariant noise.
import { Float64, Gmm, NoiseSchedule, Program, Solvers } from '../src/index.ts'

const ns = NoiseSchedule.vpLinear()
const problem = Gmm.random(3, 2, 10)
const B = 2000
const xT = Gmm.normals(2 * B, 1)
const run = (id: string, nfe: number, set: Record<string, string> = {}, seed = 0, rows = xT, rowOffset = 0) =>
  Float64.run(Program.compileOrThrow(ns, 'eps')(Solvers.byId(id)!.build({ nfe, set })), Gmm.eps(problem), { D: 2, seed, rowOffset })(rows).x

// 1. η = 0 is the ODE solver, bit for bit
const ode = run('k-dpmpp-2m', 20)
const eta0 = run('sde-dpmpp-2m', 20, { eta: '0' })
console.log(`sde-dpmpp-2m(η = 0) vs k-dpmpp-2m: max |Δ| = ${Math.max(...eta0.map((v, k) => Math.abs(v - ode[k]!)))}`)

// 2. the noise is keyed by (seed, sample index, step, stream): rows 100..109 alone = the same rows of the batch
const full = run('euler-ancestral', 20, {}, 7)
const part = run('euler-ancestral', 20, {}, 7, xT.slice(200, 220), 100)
const same = part.every((v, k) => v === full[200 + k])
console.log(`euler-ancestral rows 100..109 run alone (rowOffset 100): ${same ? 'bit-identical' : 'DIFFERENT'}`)

// 3. terminal variance of the samples vs the exact mixture at t_0 (ODE samplers are deterministic maps of x_T; SDE samplers forget it)
const p0 = NoiseSchedule.point(ns)(ns.t0)
const exactVar = (d: number) => {
  const m = problem.weights.reduce((a, w, k) => a + w * problem.means[k]![d]!, 0)
  return problem.weights.reduce((a, w, k) => a + w * (problem.variances[k]![d]! + problem.means[k]![d]! ** 2), 0) - m * m
}
const variance = (x: Float64Array, d: number) => {
  const m = x.filter((_, k) => k % 2 === d).reduce((a, b) => a + b, 0) / B
  return x.filter((_, k) => k % 2 === d).reduce((a, b) => a + (b - m) ** 2, 0) / (B - 1) / (p0.alpha ** 2 * exactVar(d) + p0.sigma ** 2)
}
for (const [id, nfe] of [
  ['k-dpmpp-2m', 20],
  ['sde-dpmpp-2m', 20],
  ['sde-dpmpp-2m', 100],
  ['score-sde-pc', 200],
] as const) {
  const x = run(id, nfe)
  console.log(`${id.padEnd(13)} NFE ${String(nfe).padStart(3)}: variance / exact = ${variance(x, 0).toFixed(3)}, ${variance(x, 1).toFixed(3)}`)
}
if (eta0.some((v, k) => v !== ode[k]) || !same) process.exitCode = 1

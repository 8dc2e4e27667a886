// Mean-reverting diffusion (IR-SDE) with MRS: restore samples of a Gaussian mixture from a condition μ,
// compare MRS at 10 NFE with the original IR-SDE Euler sampler against the exact PF-ODE endpoint.
import { Float64, Gmm, MeanReverting as MR, Program, Solvers } from '../src/index.ts'

const ns = MR.schedule({ lambdaInf: 10 / 255, theta: 'cosine', alphaT: 0.005 }) // IR-SDE: max_sigma 10, eps 0.005
const data = Gmm.random(4, 2, 3, 0.1, 0.3) // p(x0 | μ): a 2-D mixture
const rows = 8
const mu = Gmm.normals(rows * 2, 8).map((v) => 0.5 * v) // one condition per row
const xT = MR.prior(ns, mu, Gmm.normals(rows * 2, 5)) // x_T = μ + λ∞·z
const exact = MR.endpoint(ns)(data, mu, xT) // exact probability-flow endpoint (adaptive solve at 1e-12)
const err = (x: Float64Array) => Math.max(...x.map((v, k) => Math.abs(v - exact[k]!)))

const nfe = 10
const run = (id: string, param: 'eps' | 'x0' | 'v' = 'eps', set: Readonly<Record<string, string>> = {}) =>
  Float64.run(Program.compileOrThrow(ns, param)(Solvers.byId(id)!.build({ nfe, set })), MR.native(ns, data, mu, param), { mu, D: 2, seed: 1 })(xT).x
const euler = MR.eulerMaruyama(ns, { steps: nfe, sde: false, D: 2 })(MR.eps(data, mu), mu)(xT)

const rows_ = [
  ['IR-SDE Euler (PF-ODE, time-uniform)', err(euler)],
  ['mrs-ode-1 (data)', err(run('mrs-ode-1'))],
  ['mrs-ode-2 (data)', err(run('mrs-ode-2'))],
  ['mrs-ode-2 (noise)', err(run('mrs-ode-2', 'eps', { prediction: 'noise' }))],
  ['mrs-ode-3 (data)', err(run('mrs-ode-3'))],
  ['mrs-ode-3, velocity model', err(run('mrs-ode-3', 'v'))],
] as const
console.log(`max |x − exact| at ${nfe} NFE, λ∞ = ${ns.lambdaInf.toFixed(4)}, λ from ${ns.lambda(ns.T).toFixed(2)} to ${ns.lambda(ns.t0).toFixed(2)}`)
for (const [name, e] of rows_) console.log(`  ${name.padEnd(38)} ${e.toExponential(2)}`)
const sde = run('mrs-sde-2')
console.log(`  mrs-sde-2 (a sample of p(x0 | μ), not the ODE endpoint): first row ${Array.from(sde.slice(0, 2), (v) => v.toFixed(3)).join(', ')}`)
const ratio = err(euler) / err(run('mrs-ode-3'))
console.log(`  Euler / mrs-ode-3 = ${ratio.toFixed(1)}× (over 12 mixtures: 25× geometric mean, bench/RESULTS.md)`)
if (!(ratio > 5)) process.exitCode = 1

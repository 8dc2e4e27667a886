// Momentum and time shift are per-step fields of a schedule: GHVB keeps PLMS-4 from diverging on a
// guided (stiff) Gaussian, and a hand-written time-shifted DPM-Solver++(2M) equals the named one.
import { Float64, Gmm, Grid, NoiseSchedule, Program, SolverSchedule as S, Solvers } from '../src/index.ts'

const ns = NoiseSchedule.vpLinear()
const D = 4

// classifier-free guidance w = 5 on N(0.5, 1e-3·I) against N(0.5, I): stiff where σ/α ≈ 0.03
const [u, c] = [Gmm.eps(Gmm.gaussian(D, 0.5, 1)), Gmm.eps(Gmm.gaussian(D, 0.5, 1e-3))]
const guided: Float64.Model = (x, at) => {
  const [eu, ec] = [u(x, at), c(x, at)]
  return eu.map((v, k) => -4 * v + 5 * ec[k]!)
}
const xT = Gmm.normals(16 * D, 1)
// its exact flow in ρ = σ/α: x̄_t − μ = (x̄_T − μ)·((1+ρ_t²)/(1+ρ_T²))^{−2}·((1e-3+ρ_t²)/(1e-3+ρ_T²))^{5/2}
const error = (id: string, set: Readonly<Record<string, string>>) => {
  const p = Program.compileOrThrow(ns, 'eps')(Solvers.byId(id)!.build({ nfe: 15, grid: 'time_quadratic', set }))
  const [a, b] = [p.points[0]!, p.points[p.points.length - 1]!]
  const [r0, r1] = [a.sigma / a.alpha, b.sigma / b.alpha]
  const k = ((1 + r1 * r1) / (1 + r0 * r0)) ** -2 * ((1e-3 + r1 * r1) / (1e-3 + r0 * r0)) ** 2.5
  const x = Float64.run(p, guided, { D })(xT).x
  return Math.max(...x.map((v, q) => Math.abs(v - b.alpha * (0.5 + (xT[q]! / a.alpha - 0.5) * k))))
}
const plms4 = error('ghvb', { order: '4' }) // integer order: plain PLMS-4
const ghvb = error('ghvb', { order: '1.5' }) // k = 2, β = 0.5
console.log(`guided Gaussian, NFE 15: max error PLMS-4 ${plms4.toExponential(2)}, GHVB-1.5 ${ghvb.toExponential(2)}`)

// TS-DPM-Solver++(2M) by hand: keep the shifted times (the next model call and λ-differences use them)
const nfe = 10
const shift: S.TimeShift = { window: 30, cutoff: 300, keep: true }
const steps = Array.from({ length: nfe }, (_, i): S.StepDecision => (i === 0 ? { prediction: 'data', order: 1 } : { prediction: 'data', order: 2, relaxation: 'dpmsolver-2', timeShift: shift })) // never shifted at step 0
const mine = S.make(Grid.logSNR(nfe), steps, 'my-ts-2m')
const g = Gmm.random(3, 8, 7)
const x8 = Gmm.normals(12 * 8, 2)
const run = (s: S.SolverSchedule) => Float64.run(Program.compileOrThrow(ns, 'eps')(s), Gmm.eps(g), { D: 8 })(x8).x
const named = Solvers.byId('time-shift-dpmpp-2m')!.build({ nfe })
const diff = Math.max(...run(mine).map((v, k) => Math.abs(v - run(named)[k]!)))
console.log(`hand-written TS-2M vs named time-shift-dpmpp-2m: max |Δ| = ${diff.toExponential(2)}`)
if (!(plms4 > 10 * ghvb && diff <= 1e-12)) process.exitCode = 1

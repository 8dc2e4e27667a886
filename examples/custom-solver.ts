// The README's ten-line custom solver: exact λ-Lagrange predictor up to order 3 with a free UniC-style corrector.
import { Float64, Gmm, Grid, NoiseSchedule, Program, SolverSchedule as S, Solvers } from '../src/index.ts'

const nfe = 8
const steps = Array.from({ length: nfe }, (_, i): S.StepDecision =>
  i === 0
    ? { prediction: 'data', order: 1 } // DDIM first step
    : {
        prediction: 'data',
        order: Math.min(i + 1, 3), // exact λ-Lagrange, up to 3 nodes
        ...(i < nfe - 1 ? { corrector: { mode: 'pseudo' } } : {}),
      },
) // UniC-style corrector, free
const program = Program.compileOrThrow(NoiseSchedule.vpLinear(), 'eps')(S.make(Grid.logSNR(nfe), steps))
const x0 = Float64.run(program, Gmm.eps(Gmm.random(3, 2, 7)))(Gmm.normals(2 * 16, 1)).x

// compare with a very fine solve of the same ODE and with DPM-Solver++(2M) at the same NFE
const fine = Program.compileOrThrow(NoiseSchedule.vpLinear(), 'eps')(Solvers.byId('dpmpp-3m')!.build({ nfe: 400 }))
const exact = Float64.run(fine, Gmm.eps(Gmm.random(3, 2, 7)))(Gmm.normals(2 * 16, 1)).x
const dpm = Program.compileOrThrow(NoiseSchedule.vpLinear(), 'eps')(Solvers.byId('dpmpp-2m')!.build({ nfe }))
const x2m = Float64.run(dpm, Gmm.eps(Gmm.random(3, 2, 7)))(Gmm.normals(2 * 16, 1)).x
const err = (y: Float64Array) => Math.max(...y.map((v, k) => Math.abs(v - exact[k]!)))
console.log(`NFE ${program.nfe}: custom max error ${err(x0).toExponential(2)}, DPM-Solver++(2M) ${err(x2m).toExponential(2)}`)
if (!(err(x0) < err(x2m))) process.exitCode = 1

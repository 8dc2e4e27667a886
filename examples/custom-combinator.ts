// A step behaviour written outside src/: damping of the oldest node. Each predictor's oldest node value m_old is
// replaced by κ·m_old + (1 − κ)·m_s (m_s: the start node), so the weight of a constant output is unchanged (the step
// stays consistent), κ = 1 is the base step (its neutral element) and κ = 0 drops the oldest node's information.
// It is one combinator (Step → Step) composed with a named solver's steps, run on both interpreters and explained.
import * as tf from '@tensorflow/tfjs'
import { Float64, Gmm, Instr, NoiseSchedule, Program, Solvers, Step, Trace } from '../src/index.ts'
import * as Tfjs from '../src/tfjs.ts'

/** the damped oldest node: value(old) ← κ·value(old) + (1 − κ)·value(start), predictor updates with ≥ 2 nodes */
const dampOldest =
  (kappa: number): Step.Combinator =>
  (s) =>
    Step.declare(
      `oldest node damped κ = ${kappa}`,
      {},
    )(
      Step.mapIntegrate((base) => (c, u, value) => {
        const old = Math.min(...u.nodes)
        if (u.role !== 'predictor' || u.nodes.length < 2 || old === c.startG) return base(c, u, value)
        return base(c, u, (g, at) => (g === old ? Instr.plus(Instr.scale(kappa, value(g, at)), Instr.scale(1 - kappa, value(c.startG, at))) : value(g, at)))
      })(s),
    )

const ns = NoiseSchedule.vpLinear()
const gmm = Gmm.random(3, 4, 7)
const xT = Gmm.normals(4 * 32, 1)
const schedule = Solvers.byId('dpmpp-3m')!.build({ nfe: 6 })
const compileWith = (kappa: number) => Program.compileOrThrow(ns, 'eps', { mapStep: (step) => dampOldest(kappa)(step) })(schedule)

// neutral element: κ = 1 is exactly the named solver
const base = Float64.run(Program.compileOrThrow(ns, 'eps')(schedule), Gmm.eps(gmm))(xT).x
const neutral = Float64.run(compileWith(1), Gmm.eps(gmm))(xT).x
if (base.some((v, k) => v !== neutral[k])) throw new Error('κ = 1 must be the base step')

// the damped solver on both interpreters, against a fine solve of the same ODE
const fine = Float64.run(Program.compileOrThrow(ns, 'eps')(Solvers.byId('dpmpp-3m')!.build({ nfe: 400 })), Gmm.eps(gmm))(xT).x
const err = (y: ArrayLike<number>) => Math.sqrt(Array.from(y, (v, k) => (v - fine[k]!) ** 2).reduce((a, b) => a + b, 0) / 32)
const damped = compileWith(0.5)
const x64 = Float64.run(damped, Gmm.eps(gmm))(xT).x
await Tfjs.init('wasm')
const model = Tfjs.TfjsGmm.eps(gmm)
const x0 = tf.tensor2d(Float32Array.from(xT), [32, 4])
const x32 = Tfjs.run(damped, model)(x0).x
const f32 = Tfjs.toFloat64(x32)
tf.dispose([x0, x32])
model.dispose()
console.log(
  Trace.explain(damped)
    .split('\n')
    .filter((l) => l.includes('step 3 pred'))
    .join('\n'),
)
console.log(`mean L2 error vs a fine solve: dpmpp-3m ${err(base).toExponential(3)}, damped κ = 0.5 ${err(x64).toExponential(3)} (float64), ${err(f32).toExponential(3)} (tfjs)`)
if (!(Math.abs(err(f32) - err(x64)) < 1e-3)) throw new Error('the two interpreters disagree')

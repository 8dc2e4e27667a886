// Sample a shipped learned denoiser (no training needed) with DPM-Solver-v3 and DPM-Solver++ at NFE 8,
// and compare both with a fine solve of the same learned ODE.
import { Float64, Gmm, Program, Solvers } from '../src/index.ts'
import * as Learned from '../src/models/Learned.ts'

const model = Learned.load('spiral2d') // models/spiral2d.json: float32 weights, run here in float64
const ems = Learned.loadEms('spiral2d') // models/spiral2d.ems.json: DPM-Solver-v3's statistics l, s, b
const ns = Learned.scheduleOf(model)
const xT = Gmm.normals(64 * model.D, 1)
const sample = (id: string, nfe: number) => Float64.run(Program.compileOrThrow(ns, 'eps', { ems })(Solvers.byId(id)!.build({ nfe })), Learned.eps(model))(xT).x

const fine = sample('dpmpp-3m', 100) // within ~1e-3 of the exact endpoint of this ODE
const err = (x: Float64Array) => Math.sqrt(x.reduce((a, v, k) => a + (v - fine[k]!) ** 2, 0) / (x.length / model.D))
for (const id of ['dpm-v3-2', 'dpmpp-2m']) console.log(`${id.padEnd(9)} NFE 8: rms distance to the fine solve ${err(sample(id, 8)).toExponential(2)}`)
const norm = Math.sqrt(fine.reduce((a, v) => a + v * v, 0) / (fine.length / model.D))
console.log(`samples: rms radius ${norm.toFixed(3)} (the spiral's: ${Math.sqrt(Learned.sample(model.dataset).reduce((a, v) => a + v * v, 0) / model.dataset.n).toFixed(3)})`)
if (!fine.every(Number.isFinite)) process.exitCode = 1

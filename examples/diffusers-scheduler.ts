/**
 * A pipeline written against diffusers' scheduler API (setTimesteps, timesteps, initNoiseSigma, scaleModelInput,
 * step → prevSample) running stepwise schedulers: one from a diffusers scheduler_config.json, one from a named
 * stepwise solver. The "UNet" is the exact ε of a Gaussian mixture that reads diffusers' integer timestep, as a
 * network would; each loop gives exactly what Float64.run of the same program gives.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { Betas, Diffusers, Float64, Gmm, NoiseSchedule, Scheduler, Solvers } from '../src/index.ts'

// the pipeline: nothing stepwise-specific below this line
interface DiffusersScheduler {
  setTimesteps(n: number): void
  readonly timesteps: ReadonlyArray<number>
  readonly initNoiseSigma: number
  scaleModelInput(sample: Float64Array, t: number): Float64Array
  step(out: Float64Array, t: number, sample: Float64Array): { readonly prevSample: Float64Array }
}
const generate = (scheduler: DiffusersScheduler, unet: (x: Float64Array, t: number) => Float64Array, noise: Float64Array, steps: number): Float64Array => {
  scheduler.setTimesteps(steps)
  let x: Float64Array = noise.map((v) => v * scheduler.initNoiseSigma)
  for (const t of scheduler.timesteps) x = scheduler.step(unet(scheduler.scaleModelInput(x, t), t), t, x).prevSample
  return x
}

// a 2-D mixture as the model, on Stable Diffusion 1.5's noise schedule; the network reads timestep τ ∈ 0 … 999
const config = fs.readFileSync(path.join(import.meta.dirname, 'diffusers', 'scheduler_config.json'), 'utf8')
const N = 1000
const ns = Betas.discrete(Betas.alphasCumprod(Betas.scaledLinear(0.00085, 0.012, N)))
const gmm = Gmm.random(3, 2, 7)
const unet = (x: Float64Array, t: number) => Gmm.eps(gmm)(x, NoiseSchedule.point(ns)((t + 1) / N)) // timestep τ is the knot t = (τ + 1)/N
const noise = Gmm.normals(2 * 4, 1)

// 1. the scheduler a diffusers config describes (DPMSolverMultistepScheduler, DPM-Solver++(2M))
const fromConfig = Scheduler.fromDiffusers(config, { D: 2 })
const a = generate(fromConfig, unet, noise, 10)
console.log(`diffusers config, 10 steps: timesteps ${fromConfig.timesteps.join(', ')}`)
console.log(`  x0[0] = (${a[0]!.toFixed(6)}, ${a[1]!.toFixed(6)})`)
const cv = Diffusers.fromText(config, { nfe: 10 })
if (E.isLeft(cv)) throw new Error(cv.left.map((i) => `${i.path}: ${i.message}`).join('\n'))
const tau = Diffusers.timestepOf(cv.right) // diffusers' timestep at each evaluation point
const same = Float64.run(fromConfig.program, (x, at) => unet(x, tau(at)))(noise).x
console.log(`  Float64.run of the same program: max |Δ| = ${Math.max(...a.map((v, k) => Math.abs(v - same[k]!)))}`)

// 2. any stepwise document behind the same API: UniPC-3 (bh2) with its corrector, timesteps = 999·t on the same schedule
const unipc = Scheduler.make({
  noiseSchedule: ns,
  parameterization: 'eps',
  schedule: (n) => Solvers.byId('unipc-bh2-3')!.build({ nfe: n, grid: 'logSNR' }),
  timestep: (at) => N * at.t - 1,
})
const b = generate(unipc, unet, noise, 8)
const ref = Float64.run(unipc.program, (x, at) => unet(x, N * at.t - 1))(noise).x
console.log(`stepwise unipc-bh2-3, 8 steps: x0[0] = (${b[0]!.toFixed(6)}, ${b[1]!.toFixed(6)}); vs Float64.run max |Δ| = ${Math.max(...b.map((v, k) => Math.abs(v - ref[k]!)))}`)
if (a.some((v, k) => v !== same[k]) || b.some((v, k) => v !== ref[k])) throw new Error('the scheduler loop differs from Float64.run')

/**
 * diffusers interop (Betas, Diffusers, Interop, the CLI commands), saved tfjs networks as models
 * (TfjsModel) and backend selection (Backends).
 */
import * as assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import * as B from '../src/core/Betas.ts'
import * as _ from '../src/interop/Diffusers.ts'
import * as Sch from '../src/interop/Scheduler.ts'
import * as Gmm from '../src/core/Gmm.ts'
import * as Interop from '../src/interop/Interop.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as Codec from '../src/schedule/Codec.ts'
import { main } from '../src/cli/main.ts'
import * as Backends from '../src/run/Backends.ts'
import * as F from '../src/run/Float64.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TM from '../src/run/TfjsModel.ts'
import * as Solvers from '../src/solvers/index.ts'

const root = path.join(import.meta.dirname, '..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-interop-'))
const SD15 = path.join(root, 'examples/diffusers/scheduler_config.json')
const sd15 = fs.readFileSync(SD15, 'utf8')
const base = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, num_train_timesteps: 1000 }

const convert = (cfg: Record<string, unknown> | string, nfe: number, parity: 'exact' | 'reference' = 'exact'): _.Conversion => {
  const r = _.fromText(typeof cfg === 'string' ? cfg : JSON.stringify(cfg), { nfe, parity })
  if (E.isLeft(r)) assert.fail(r.left.map((i) => `${i.path}: ${i.message}`).join('\n'))
  return r.right
}
const issues = (cfg: Record<string, unknown> | string, nfe = 10): ReadonlyArray<_.Issue> => {
  const r = _.fromText(typeof cfg === 'string' ? cfg : JSON.stringify(cfg), { nfe })
  assert.ok(E.isLeft(r), 'expected issues')
  return r.left
}
const evalTimesteps = (cv: _.Conversion): ReadonlyArray<number> => {
  const p = Prog.compileOrThrow(cv.noiseSchedule, cv.parameterization)(cv.schedule)
  const tau = _.timestepOf(cv)
  return p.instrs.flatMap((i) => (i.op === 'eval' ? [tau(i.at)] : []))
}

// -------------------------------------------------------------------------------------------------
// an independent float64 transcription of diffusers' DPMSolverMultistepScheduler.step loop
// (σ̄ list with the final σ appended; α = 1/sqrt(1 + σ̄²), σ = σ̄·α; orders, lower_order_final, midpoint/heun, 3rd order)
// -------------------------------------------------------------------------------------------------

interface RefOpts {
  readonly sigmas: ReadonlyArray<number> // n + 1 values, last one the final σ (0 or σ_min)
  readonly order: number
  readonly algo: 'dpmsolver++' | 'dpmsolver'
  readonly solverType: 'midpoint' | 'heun'
  readonly lowerOrderFinal: boolean
  readonly eulerAtFinal: boolean
  readonly finalZero: boolean
}

const refDpmMultistep =
  (o: RefOpts, eps: (x: Float64Array, a: number, s: number) => Float64Array) =>
  (xT: Float64Array): Float64Array => {
    const n = o.sigmas.length - 1
    const as = (sb: number) => {
      const a = 1 / Math.sqrt(1 + sb * sb)
      const s = sb * a
      return { a, s, l: Math.log(a) - Math.log(s) }
    }
    let x = xT
    const outs: Float64Array[] = []
    let lowerNums = 0
    for (let i = 0; i < n; i++) {
      const p0 = as(o.sigmas[i]!)
      const e = eps(x, p0.a, p0.s)
      const m = o.algo === 'dpmsolver++' ? x.map((xv, k) => (xv - p0.s * e[k]!) / p0.a) : e
      outs.push(m)
      const lof = i === n - 1 && (o.eulerAtFinal || (o.lowerOrderFinal && n < 15) || o.finalZero)
      const los = i === n - 2 && o.lowerOrderFinal && n < 15
      const pt = as(o.sigmas[i + 1]!)
      const h = pt.l - p0.l
      const m0 = outs[outs.length - 1]!
      const k = o.order === 1 || lowerNums < 1 || lof ? 1 : o.order === 2 || lowerNums < 2 || los ? 2 : 3
      const next = new Float64Array(x.length)
      if (k === 1) {
        for (let j = 0; j < x.length; j++) next[j] = o.algo === 'dpmsolver++' ? (pt.s / p0.s) * x[j]! - pt.a * Math.expm1(-h) * m0[j]! : (pt.a / p0.a) * x[j]! - pt.s * Math.expm1(h) * m0[j]!
      } else if (k === 2) {
        const p1 = as(o.sigmas[i - 1]!)
        const r0 = (p0.l - p1.l) / h
        const m1 = outs[outs.length - 2]!
        for (let j = 0; j < x.length; j++) {
          const D0 = m0[j]!
          const D1 = (m0[j]! - m1[j]!) / r0
          if (o.algo === 'dpmsolver++')
            next[j] = (pt.s / p0.s) * x[j]! - pt.a * Math.expm1(-h) * D0 + (o.solverType === 'midpoint' ? -0.5 * pt.a * Math.expm1(-h) * D1 : pt.a * (Math.expm1(-h) / h + 1) * D1)
          else next[j] = (pt.a / p0.a) * x[j]! - pt.s * Math.expm1(h) * D0 - (o.solverType === 'midpoint' ? 0.5 * pt.s * Math.expm1(h) * D1 : pt.s * (Math.expm1(h) / h - 1) * D1)
        }
      } else {
        const p1 = as(o.sigmas[i - 1]!)
        const p2 = as(o.sigmas[i - 2]!)
        const r0 = (p0.l - p1.l) / h
        const r1 = (p1.l - p2.l) / h
        const m1 = outs[outs.length - 2]!
        const m2 = outs[outs.length - 3]!
        for (let j = 0; j < x.length; j++) {
          const D10 = (m0[j]! - m1[j]!) / r0
          const D11 = (m1[j]! - m2[j]!) / r1
          const D1 = D10 + (r0 / (r0 + r1)) * (D10 - D11)
          const D2 = (D10 - D11) / (r0 + r1)
          next[j] =
            o.algo === 'dpmsolver++'
              ? (pt.s / p0.s) * x[j]! - pt.a * Math.expm1(-h) * m0[j]! + pt.a * (Math.expm1(-h) / h + 1) * D1 - pt.a * ((Math.expm1(-h) + h) / (h * h) - 0.5) * D2
              : (pt.a / p0.a) * x[j]! - pt.s * Math.expm1(h) * m0[j]! - pt.s * (Math.expm1(h) / h - 1) * D1 - pt.s * ((Math.expm1(h) - h) / (h * h) - 0.5) * D2
        }
      }
      x = next
      lowerNums = Math.min(lowerNums + 1, o.order)
    }
    return x
  }

const g = Gmm.random(3, 2, 11)
const xT = Gmm.normals(2 * 16, 5)
const gmmEps = (x: Float64Array, a: number, s: number) => Gmm.eps(g)(x, { t: NaN, alpha: a, sigma: s, lambda: Math.log(a / s) })
const maxAbs = (y: Float64Array, r: Float64Array): number => y.reduce((m, v, k) => Math.max(m, Math.abs(v - r[k]!)), 0)
const maxRel = (y: Float64Array, r: Float64Array): number => y.reduce((m, v, k) => Math.max(m, Math.abs(v - r[k]!) / (1 + Math.abs(r[k]!))), 0)

const sdSigmaBar = B.sigmaBars(B.alphasCumprod(B.scaledLinear(0.00085, 0.012, 1000)))
const atSteps = (steps: ReadonlyArray<number>) => steps.map((s) => sdSigmaBar[s]!)

// -------------------------------------------------------------------------------------------------
// independent float64 re-statements of the other diffusers `step()` loops, from the published update formulas,
// written in σ̄ = σ/α and x̄ = x/α (the Euler family) or in α, σ, λ (DEIS, singlestep, SDE-DPM-Solver++); each
// takes diffusers' σ̄ list (with its final σ appended) and, for the stochastic ones, the noise z of every step
// -------------------------------------------------------------------------------------------------

type PredictionType = 'epsilon' | 'v_prediction'
/** the network's output at x̄ and σ̄ (it sees x = x̄/sqrt(σ̄² + 1)): ε̂, or v̂ = α·ε̂ − σ·x̂0 */
const netAt = (xbar: Float64Array, sb: number, type: PredictionType): Float64Array => {
  const a = 1 / Math.sqrt(1 + sb * sb)
  const x = xbar.map((v) => v * a)
  const e = gmmEps(x, a, sb * a)
  return type === 'epsilon' ? e : e.map((ev, k) => a * ev - sb * a * ((x[k]! - sb * a * ev) / a))
}
/** x̂0 from the network output in σ̄ units: ε: x̄ − σ̄·out; v: out·(−σ̄/sqrt(σ̄² + 1)) + x̄/(σ̄² + 1) */
const x0Of = (xbar: Float64Array, sb: number, out: Float64Array, type: PredictionType): Float64Array =>
  type === 'epsilon' ? xbar.map((v, k) => v - sb * out[k]!) : xbar.map((v, k) => out[k]! * (-sb / Math.sqrt(sb * sb + 1)) + v / (sb * sb + 1))
/** dx̄/dσ̄ = (x̄ − x̂0)/σ̄ */
const derivative = (xbar: Float64Array, sb: number, type: PredictionType): Float64Array => {
  const x0 = x0Of(xbar, sb, netAt(xbar, sb, type), type)
  return xbar.map((v, k) => (v - x0[k]!) / sb)
}
const axpy = (x: Float64Array, c: number, d: Float64Array): Float64Array => x.map((v, k) => v + c * d[k]!)

/** EulerAncestralDiscreteScheduler.step: σ_up = sqrt(σ_to²(σ_from² − σ_to²)/σ_from²), σ_down = sqrt(σ_to² − σ_up²), x̄ ← x̄ + (σ_down − σ)·d + σ_up·z */
const refEulerAncestral = (sigmas: ReadonlyArray<number>, zs: ReadonlyArray<Float64Array>, type: PredictionType) => (xbarT: Float64Array) => {
  let x = xbarT
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const from = sigmas[i]!
    const to = sigmas[i + 1]!
    const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from))
    const down = Math.sqrt(to * to - up * up)
    x = axpy(axpy(x, down - from, derivative(x, from, type)), up, zs[i]!)
  }
  return x
}

/** HeunDiscreteScheduler: per interval Euler to σ_{i+1}, then x̄_{i+1} = x̄_i + (σ_{i+1} − σ_i)·(d_i + d(x̃, σ_{i+1}))/2; into σ = 0 Euler only */
const refHeun = (sigmas: ReadonlyArray<number>, type: PredictionType) => (xbarT: Float64Array) => {
  let x = xbarT
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const s = sigmas[i]!
    const t = sigmas[i + 1]!
    const d = derivative(x, s, type)
    const pred = axpy(x, t - s, d)
    if (t === 0) x = pred
    else {
      const d2 = derivative(pred, t, type)
      x = x.map((v, k) => v + (t - s) * 0.5 * (d[k]! + d2[k]!))
    }
  }
  return x
}

/** KDPM2DiscreteScheduler: per interval Euler to σ_mid = sqrt(σ_i·σ_{i+1}), then x̄_{i+1} = x̄_i + (σ_{i+1} − σ_i)·d(x̃_mid, σ_mid); into σ = 0 Euler only */
const refKdpm2 = (sigmas: ReadonlyArray<number>, type: PredictionType) => (xbarT: Float64Array) => {
  let x = xbarT
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const s = sigmas[i]!
    const t = sigmas[i + 1]!
    const d = derivative(x, s, type)
    if (t === 0) x = axpy(x, -s, d)
    else {
      const mid = Math.exp(0.5 * (Math.log(s) + Math.log(t)))
      const xm = axpy(x, mid - s, d)
      x = axpy(x, t - s, derivative(xm, mid, type))
    }
  }
  return x
}

/** ∫_a^b Π_{k≠j}(σ − σ_k)/(σ_j − σ_k) dσ by 8-point Gauss–Legendre (exact up to degree 15) */
const GL8 = [
  [-0.9602898564975363, 0.1012285362903763],
  [-0.7966664774136267, 0.2223810344533745],
  [-0.525532409916329, 0.3137066458778873],
  [-0.1834346424956498, 0.362683783378362],
  [0.1834346424956498, 0.362683783378362],
  [0.525532409916329, 0.3137066458778873],
  [0.7966664774136267, 0.2223810344533745],
  [0.9602898564975363, 0.1012285362903763],
] as const
const lagrangeIntegral = (nodes: ReadonlyArray<number>, j: number, a: number, b: number): number =>
  GL8.reduce((acc, [u, w]) => {
    const x = 0.5 * (a + b) + 0.5 * (b - a) * u
    return acc + w * nodes.reduce((l, xk, k) => (k === j ? l : (l * (x - xk)) / (nodes[j]! - xk)), 1)
  }, 0) *
  (0.5 * (b - a))

/** LMSDiscreteScheduler.step(order = 4): x̄_{i+1} = x̄_i + Σ_j (∫_{σ_i}^{σ_{i+1}} ℓ_j dσ)·d_{i−j}, j < min(i + 1, 4), the last step (into σ = 0) too */
const refLms =
  (sigmas: ReadonlyArray<number>, type: PredictionType, maxOrder = 4) =>
  (xbarT: Float64Array) => {
    let x = xbarT
    const ds: Float64Array[] = []
    for (let i = 0; i + 1 < sigmas.length; i++) {
      ds.unshift(derivative(x, sigmas[i]!, type))
      const k = Math.min(i + 1, maxOrder)
      const nodes = Array.from({ length: k }, (_, j) => sigmas[i - j]!)
      const next = Float64Array.from(x)
      for (let j = 0; j < k; j++) {
        const c = lagrangeIntegral(nodes, j, sigmas[i]!, sigmas[i + 1]!)
        for (let q = 0; q < x.length; q++) next[q]! += c * ds[j]![q]!
      }
      x = next
    }
    return x
  }

/** the VP view of σ̄: α = 1/sqrt(1 + σ̄²), σ = σ̄·α, λ = −log σ̄ */
const vp = (sb: number) => {
  const a = 1 / Math.sqrt(1 + sb * sb)
  return { a, s: sb * a, l: -Math.log(sb) }
}
/** ε̂ at x (VP) and σ̄ */
const epsVp = (x: Float64Array, sb: number): Float64Array => {
  const p = vp(sb)
  return gmmEps(x, p.a, p.s)
}

/** ∫_{u_s}^{u_t} e^{u}·ℓ_j(u) du in closed form (∫P e^u = e^u(P − P′ + P″ − …)) for the Lagrange basis ℓ_j over nodes u_k */
const expLagrangeIntegral = (us: ReadonlyArray<number>, j: number, from: number, to: number): number => {
  // monomial coefficients of ℓ_j
  let poly = [1]
  for (let k = 0; k < us.length; k++) {
    if (k === j) continue
    const d = us[j]! - us[k]!
    const next = new Array<number>(poly.length + 1).fill(0)
    poly.forEach((c, q) => {
      next[q + 1]! += c / d
      next[q]! -= (c * us[k]!) / d
    })
    poly = next
  }
  const F = (u: number): number => {
    let sum = 0
    let p = poly
    let sign = 1
    while (p.length > 0) {
      sum += sign * p.reduce((acc, c, q) => acc + c * u ** q, 0)
      p = p.slice(1).map((c, q) => c * (q + 1))
      sign = -sign
    }
    return Math.exp(u) * sum
  }
  return F(to) - F(from)
}

/** DEISMultistepScheduler (deis, logrho): x_t = α_t·(x_s/α_s + Σ_j c_j·ε_j), c_j = ∫_{ρ_s}^{ρ_t} ℓ_j(log ρ) dρ over the last min(i + 1, order) points (u = log ρ, dρ = e^u du) */
const refDeis = (sigmas: ReadonlyArray<number>, order: number, lowerOrderFinal: boolean) => (xT: Float64Array) => {
  const n = sigmas.length - 1
  let x = xT
  const eps: Float64Array[] = []
  let lowerNums = 0
  for (let i = 0; i < n; i++) {
    eps.unshift(epsVp(x, sigmas[i]!))
    const lof = i === n - 1 && lowerOrderFinal && n < 15
    const los = i === n - 2 && lowerOrderFinal && n < 15
    const k = order === 1 || lowerNums < 1 || lof ? 1 : order === 2 || lowerNums < 2 || los ? 2 : 3
    const us = Array.from({ length: k }, (_, j) => Math.log(sigmas[i - j]!))
    const ps = vp(sigmas[i]!)
    const pt = vp(sigmas[i + 1]!)
    const next = x.map((v) => v / ps.a)
    for (let j = 0; j < k; j++) {
      const c = expLagrangeIntegral(us, j, Math.log(sigmas[i]!), Math.log(sigmas[i + 1]!))
      for (let q = 0; q < x.length; q++) next[q]! += c * eps[j]![q]!
    }
    x = next.map((v) => v * pt.a)
    lowerNums = Math.min(lowerNums + 1, order)
  }
  return x
}

/**
 * DPMSolverSinglestepScheduler: order list given; an order-k step goes from the point k − 1 steps back (the group start s)
 * to σ_{i+1} with the outputs at s, …, σ_i (DPM-Solver(++) singlestep formulas with r = λ-fractions; 'midpoint' order 3
 * uses only the newest difference)
 */
const refSinglestep = (sigmas: ReadonlyArray<number>, orders: ReadonlyArray<number>, algo: 'dpmsolver++' | 'dpmsolver', solverType: 'midpoint' | 'heun') => (xT: Float64Array) => {
  const n = sigmas.length - 1
  let x = xT
  let start = xT
  const ms: Float64Array[] = []
  for (let i = 0; i < n; i++) {
    const p0 = vp(sigmas[i]!)
    const e = epsVp(x, sigmas[i]!)
    ms[i] = algo === 'dpmsolver++' ? x.map((v, k) => (v - p0.s * e[k]!) / p0.a) : e
    const k = orders[i]!
    if (k === 1) start = x
    const s = vp(sigmas[i - k + 1]!)
    const pt = vp(sigmas[i + 1]!)
    const h = pt.l - s.l
    const data = algo === 'dpmsolver++'
    // x_t = A·x_s + Σ terms, with φ₁ = expm1(∓h)
    const A = data ? pt.s / s.s : pt.a / s.a
    const lin = data ? -pt.a * Math.expm1(-h) : -pt.s * Math.expm1(h)
    const c2 = data ? pt.a * (Math.expm1(-h) / h + 1) : -pt.s * (Math.expm1(h) / h - 1)
    const c3 = data ? -pt.a * ((Math.expm1(-h) + h) / (h * h) - 0.5) : -pt.s * ((Math.expm1(h) - h) / (h * h) - 0.5)
    const D0 = ms[i - k + 1]!
    const next = new Float64Array(x.length)
    for (let q = 0; q < x.length; q++) {
      let v = A * start[q]! + lin * D0[q]!
      if (k === 2) {
        const r0 = (p0.l - s.l) / h
        const D1 = (ms[i]![q]! - D0[q]!) / r0
        v += solverType === 'midpoint' ? 0.5 * lin * D1 : c2 * D1
      } else if (k === 3) {
        const p1 = vp(sigmas[i - 1]!)
        const r0 = (p0.l - s.l) / h
        const r1 = (p1.l - s.l) / h
        const D1a = (ms[i - 1]![q]! - D0[q]!) / r1
        const D1b = (ms[i]![q]! - D0[q]!) / r0
        if (solverType === 'midpoint') v += c2 * D1b
        else {
          const D1 = (r0 * D1a - r1 * D1b) / (r0 - r1)
          const D2 = (2 * (D1b - D1a)) / (r0 - r1)
          v += c2 * D1 + c3 * D2
        }
      }
      next[q] = v
    }
    x = next
  }
  return x
}

/** DPMSolverMultistepScheduler with sde-dpmsolver++ (orders ≤ 2): x_t = (σ_t/σ_s)e^{−h}x_s + α_t(1 − e^{−2h})·(D0 + ½D1 | heun term) + σ_t·sqrt(1 − e^{−2h})·z */
const refSdeDpmpp = (sigmas: ReadonlyArray<number>, order: 1 | 2, solverType: 'midpoint' | 'heun', zs: ReadonlyArray<Float64Array>) => (xT: Float64Array) => {
  const n = sigmas.length - 1
  let x = xT
  const ms: Float64Array[] = []
  for (let i = 0; i < n; i++) {
    const p0 = vp(sigmas[i]!)
    const e = epsVp(x, sigmas[i]!)
    ms.unshift(x.map((v, k) => (v - p0.s * e[k]!) / p0.a))
    const lof = i === n - 1 && (sigmas[i + 1] === 0 || n < 15)
    const k = order === 1 || i === 0 || lof ? 1 : 2
    const pt = vp(sigmas[i + 1]!)
    const h = pt.l - p0.l
    const damp = (pt.s / p0.s) * Math.exp(-h)
    const w = pt.a * -Math.expm1(-2 * h)
    const std = pt.s * Math.sqrt(-Math.expm1(-2 * h))
    x = x.map((v, q) => {
      let r = damp * v + w * ms[0]![q]!
      if (k === 2) {
        const r0 = (p0.l - vp(sigmas[i - 1]!).l) / h
        const D1 = (ms[0]![q]! - ms[1]![q]!) / r0
        r += solverType === 'midpoint' ? 0.5 * w * D1 : pt.a * (-Math.expm1(-2 * h) / (-2 * h) + 1) * D1
      }
      return r + std * zs[i]![q]!
    })
  }
  return x
}

/** diffusers' σ̄ at fractional timesteps (np.interp on the table) */
const sigmaAtTau = (tau: number): number => {
  const lo = Math.min(Math.floor(tau), 998)
  const w = tau - lo
  return (1 - w) * sdSigmaBar[lo]! + w * sdSigmaBar[lo + 1]!
}
/** np.linspace(0, N − 1, n) reversed (Euler-family linspace spacing) */
const linspaceTaus = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => (i === 0 ? 999 : (n - 1 - i) * (999 / (n - 1))))
/** Karras σ̄'s between σ_max and σ_min, n of them */
const karrasSigmas = (sMin: number, sMax: number, n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => (sMax ** (1 / 7) + (i / (n - 1)) * (sMin ** (1 / 7) - sMax ** (1 / 7))) ** 7)
/** n noise draws of the batch's size (the same z fed to both samplers) */
const draws = (n: number, seed: number): ReadonlyArray<Float64Array> => Array.from({ length: n }, (_, i) => Gmm.normals(xT.length, seed + 101 * i))
/** a stepwise run of a conversion on the mixture's exact model (ε or v), with the given noise draws by step */
const runConversion = (cv: _.Conversion, type: PredictionType = 'epsilon', zs: ReadonlyArray<Float64Array> = []): F.Result => {
  const p = Prog.compileOrThrow(cv.noiseSchedule, cv.parameterization)(cv.schedule)
  const model = (x: Float64Array, at: NS.Point): Float64Array => {
    const e = Gmm.eps(g)(x, at)
    return type === 'epsilon' ? e : e.map((ev, k) => at.alpha * ev - at.sigma * ((x[k]! - at.sigma * ev) / at.alpha))
  }
  return F.run(p, model, {
    D: 2,
    normal: (key) => {
      const z = zs[key.step]
      if (z === undefined || key.stream !== 0) throw new Error(`no draw for step ${key.step} stream ${key.stream}`)
      return z
    },
  })(xT)
}
/** x̄_T of x_T at the first σ̄ */
const toSigmaBar = (x: Float64Array, sb: number): Float64Array => x.map((v) => v * Math.sqrt(1 + sb * sb))

// -------------------------------------------------------------------------------------------------
// Betas
// -------------------------------------------------------------------------------------------------

test('Betas: schedule endpoints, cosine cap, discrete knots hold diffusers’ ᾱ, DPM-Solver’s λ < −5.1 clipping', () => {
  const lin = B.linear(1e-4, 0.02, 1000)
  assert.equal(lin[0], 1e-4)
  assert.ok(Math.abs(lin[999]! - 0.02) < 1e-17)
  const sl = B.scaledLinear(0.00085, 0.012, 1000)
  assert.ok(Math.abs(sl[0]! - 0.00085) < 1e-18 && Math.abs(sl[999]! - 0.012) < 1e-17)
  const cos = B.squaredCosCapV2(1000)
  assert.equal(Math.max(...cos), 0.999) // the cap is reached at the end
  const ab = B.alphasCumprod(sl)
  const ns = B.discrete(ab)
  for (const n of [0, 1, 500, 998, 999]) assert.ok(Math.abs(ns.alpha((n + 1) / 1000) - Math.sqrt(ab[n]!)) < 1e-13, `knot ${n}`)
  assert.equal(ns.T, 1)
  assert.equal(ns.t0, 1 / 1000)
  // cosine: DPM-Solver drops the entries with λ < −5.1 and spreads t over what is left
  const dropped = B.lambdas(B.alphasCumprod(cos)).filter((l) => l < -5.1).length
  assert.ok(dropped > 0, 'the cosine schedule has entries below λ = −5.1')
  const dns = B.dpmSolverDiscrete(cos)
  assert.ok(dns.lambda(1) >= -5.1 - 1e-9, `λ(T) = ${dns.lambda(1)}`)
  // sigmaToTimestep inverts the σ̄ table at the integers
  const s2t = B.sigmaToTimestep(sdSigmaBar)
  for (const n of [0, 17, 999]) assert.ok(Math.abs(s2t(sdSigmaBar[n]!) - n) < 1e-9)
  const z = B.rescaleZeroTerminalSnr(ab)
  assert.equal(z[999], 2 ** -24)
  assert.ok(Math.abs(z[0]! - ab[0]!) < 1e-15)
})

// -------------------------------------------------------------------------------------------------
// Diffusers: config → schedule, checked against the transcription of diffusers' loop
// -------------------------------------------------------------------------------------------------

test('Diffusers: the SD 1.5 DPMSolverMultistep config (Python JSON with -Infinity) round-trips into a valid document with diffusers’ timesteps', () => {
  const cv = convert(sd15, 10)
  assert.equal(cv.className, 'DPMSolverMultistepScheduler')
  assert.equal(cv.parameterization, 'eps')
  assert.equal(cv.solver, 'dpmpp-2m')
  assert.deepEqual(evalTimesteps(cv), [901, 811, 721, 631, 541, 451, 361, 271, 181, 91]) // leading: (1000 // 11)·k + steps_offset 1
  assert.deepEqual(cv.schedule.options, { denoiseToZero: true }) // final_sigmas_type zero
  assert.deepEqual(
    cv.schedule.steps.map((s) => s.order),
    [1, 2, 2, 2, 2, 2, 2, 2, 2],
  )
  assert.equal(cv.schedule.steps[1]!.relaxation, 'dpmsolver-2') // midpoint
  const d = Codec.decode(JSON.parse(JSON.stringify(Codec.encode(cv.schedule))))
  assert.ok(E.isRight(d), E.isLeft(d) ? Codec.format(d.left) : '')
  assert.deepEqual(d.right, cv.schedule)
  assert.deepEqual(cv.notes, [])
  assert.deepEqual(evalTimesteps(convert(sd15, 20)).slice(0, 3), [941, 894, 847])
})

test('Diffusers: DPMSolverMultistep conversions reproduce diffusers’ update loop (float64, ≤ 1e-12) across spacing, Karras, final σ, order 1–3, noise/data, midpoint/heun', (t) => {
  const lin = (n: number, N = 1000) => Array.from({ length: n }, (_, i) => Math.round(((N - 1) * (n - i)) / n)) // linspace(0, N−1, n+1) reversed, without the 0
  const cases: ReadonlyArray<{ readonly cfg: Record<string, unknown>; readonly nfe: number; readonly ref: RefOpts; readonly parity?: 'reference' }> = [
    // SD 1.5 as shipped in examples/, 10 and 20 steps (lower_order_final only below 15)
    ...[10, 20].map((n) => ({
      cfg: JSON.parse(JSON.stringify(_.parseJson(sd15))) as Record<string, unknown>,
      nfe: n,
      ref: {
        sigmas: [...atSteps(Array.from({ length: n }, (_, k) => Math.floor(1000 / (n + 1)) * (n - k) + 1)), 0],
        order: 2,
        algo: 'dpmsolver++' as const,
        solverType: 'midpoint' as const,
        lowerOrderFinal: true,
        eulerAtFinal: false,
        finalZero: true,
      },
    })),
    {
      cfg: { _class_name: 'DPMSolverMultistepScheduler', ...base, use_karras_sigmas: true, solver_type: 'heun' },
      nfe: 12,
      ref: {
        sigmas: [...Array.from({ length: 12 }, (_, i) => (sdSigmaBar[999]! ** (1 / 7) + (i / 11) * (sdSigmaBar[0]! ** (1 / 7) - sdSigmaBar[999]! ** (1 / 7))) ** 7), 0],
        order: 2,
        algo: 'dpmsolver++',
        solverType: 'heun',
        lowerOrderFinal: true,
        eulerAtFinal: false,
        finalZero: true,
      },
    },
    {
      cfg: { _class_name: 'DPMSolverMultistepScheduler', ...base, solver_order: 3, final_sigmas_type: 'sigma_min', timestep_spacing: 'linspace' },
      nfe: 8,
      parity: 'reference',
      ref: { sigmas: [...atSteps(lin(8)), sdSigmaBar[0]!], order: 3, algo: 'dpmsolver++', solverType: 'midpoint', lowerOrderFinal: true, eulerAtFinal: false, finalZero: false },
    },
    {
      cfg: { _class_name: 'DPMSolverMultistepScheduler', ...base, solver_order: 3, algorithm_type: 'dpmsolver', final_sigmas_type: 'sigma_min', lower_order_final: false, euler_at_final: true },
      nfe: 16,
      parity: 'reference',
      ref: { sigmas: [...atSteps(lin(16)), sdSigmaBar[0]!], order: 3, algo: 'dpmsolver', solverType: 'midpoint', lowerOrderFinal: false, eulerAtFinal: true, finalZero: false },
    },
    {
      cfg: { _class_name: 'DPMSolverMultistepScheduler', ...base, solver_order: 1, timestep_spacing: 'trailing' },
      nfe: 6,
      ref: {
        sigmas: [...atSteps([999, 832, 666, 499, 332, 166]), 0], // round(arange(1000, 0, −1000/6)) − 1
        order: 1,
        algo: 'dpmsolver++',
        solverType: 'midpoint',
        lowerOrderFinal: true,
        eulerAtFinal: false,
        finalZero: true,
      },
    },
  ]
  for (const c of cases) {
    const cv = convert(c.cfg, c.nfe, c.parity ?? 'exact')
    const y = F.run(Prog.compileOrThrow(cv.noiseSchedule, cv.parameterization)(cv.schedule), Gmm.eps(g))(xT)
    const r = refDpmMultistep(c.ref, gmmEps)(xT)
    check('DPMSolverMultistepScheduler', `${JSON.stringify(c.cfg).slice(0, 120)} nfe ${c.nfe}`, y.x, r, 1e-12)
    assert.equal(y.nfe, c.nfe, 'one model evaluation per diffusers step')
  }
  t.diagnostic(`DPMSolverMultistepScheduler: max rel diff ${worst.get('DPMSolverMultistepScheduler')!.toExponential(2)}`)
})

/** DPMSolverMultistep / DEIS / singlestep linspace timesteps: round(linspace(0, N − 1, n + 1)) reversed, without the 0 */
const linTimesteps = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => Math.round((999 * (n - i)) / n))
const sdKarras = (n: number) => karrasSigmas(sdSigmaBar[0]!, sdSigmaBar[999]!, n)
/** the largest max-rel difference a group of cases measured (reported by the tests) */
const worst = new Map<string, number>()
const check = (group: string, what: string, y: Float64Array, r: Float64Array, tol: number) => {
  const d = maxRel(y, r)
  worst.set(group, Math.max(worst.get(group) ?? 0, d))
  assert.ok(d <= tol, `${group} ${what}: max rel diff ${d}`)
}

test('Diffusers: EulerAncestral reproduces diffusers’ step() given the same noise draws (float64, ≤ 1e-12): linspace, leading, trailing; ε and v', (t) => {
  const cases: ReadonlyArray<{ readonly cfg: Record<string, unknown>; readonly taus: ReadonlyArray<number>; readonly type: PredictionType }> = [
    { cfg: {}, taus: linspaceTaus(10), type: 'epsilon' },
    { cfg: { timestep_spacing: 'leading', steps_offset: 1, prediction_type: 'v_prediction' }, taus: Array.from({ length: 8 }, (_, i) => 125 * (7 - i) + 1), type: 'v_prediction' },
    { cfg: { timestep_spacing: 'trailing' }, taus: Array.from({ length: 7 }, (_, i) => Math.round(1000 - (i * 1000) / 7) - 1), type: 'epsilon' },
  ]
  for (const c of cases) {
    const n = c.taus.length
    const cv = convert({ _class_name: 'EulerAncestralDiscreteScheduler', ...base, ...c.cfg }, n)
    assert.equal(cv.stochastic, true)
    assert.equal(cv.samples, 'sigmaBar')
    assert.deepEqual(evalTimesteps(cv), c.taus, 'the model reads diffusers’ timesteps')
    const sigmas = [...c.taus.map(sigmaAtTau), 0]
    const zs = draws(n, 7)
    const y = runConversion(cv, c.type, zs)
    const r = refEulerAncestral(sigmas, zs, c.type)(toSigmaBar(xT, sigmas[0]!))
    check('EulerAncestral', `${JSON.stringify(c.cfg)} n ${n}`, y.x, r, 1e-12)
    assert.equal(y.nfe, n)
  }
  t.diagnostic(`EulerAncestral: max rel diff ${worst.get('EulerAncestral')!.toExponential(2)}`)
})

test('Diffusers: DPMSolverMultistep sde-dpmsolver++ reproduces diffusers’ step() given the same noise (float64, ≤ 1e-12): orders 1–2, midpoint/heun, Karras, trailing', (t) => {
  const cases: ReadonlyArray<{ readonly cfg: Record<string, unknown>; readonly sigmas: ReadonlyArray<number>; readonly order: 1 | 2; readonly st: 'midpoint' | 'heun' }> = [
    { cfg: { timestep_spacing: 'leading', steps_offset: 1 }, sigmas: [...atSteps(Array.from({ length: 10 }, (_, k) => 90 * (10 - k) + 1)), 0], order: 2, st: 'midpoint' },
    { cfg: { use_karras_sigmas: true, solver_type: 'heun' }, sigmas: [...sdKarras(12), 0], order: 2, st: 'heun' },
    { cfg: { timestep_spacing: 'trailing', solver_order: 1 }, sigmas: [...atSteps([999, 832, 666, 499, 332, 166]), 0], order: 1, st: 'midpoint' },
    { cfg: { timestep_spacing: 'linspace', final_sigmas_type: 'sigma_min' }, sigmas: [...atSteps(linTimesteps(16)), sdSigmaBar[0]!], order: 2, st: 'midpoint' },
  ]
  for (const c of cases) {
    const n = c.sigmas.length - 1
    const cv = convert({ _class_name: 'DPMSolverMultistepScheduler', ...base, algorithm_type: 'sde-dpmsolver++', ...c.cfg }, n)
    assert.equal(cv.stochastic, true)
    const zs = draws(n, 3)
    const y = runConversion(cv, 'epsilon', zs)
    const r = refSdeDpmpp(c.sigmas, c.order, c.st, zs)(xT)
    check('SDE-DPM-Solver++', `${JSON.stringify(c.cfg)} n ${n}`, y.x, r, 1e-12)
    assert.equal(y.nfe, n)
  }
  t.diagnostic(`sde-dpmsolver++: max rel diff ${worst.get('SDE-DPM-Solver++')!.toExponential(2)}`)
})

test('Diffusers: DDIM (η = 0) and Euler reproduce diffusers’ step() loops (float64, ≤ 1e-12): leading/trailing/linspace, Karras, ε and v', (t) => {
  // DDIM: x_prev = sqrt(ᾱ_prev)·x̂0 + sqrt(1 − ᾱ_prev)·ε̂, from each timestep to the next listed one, the last to ᾱ_0 (set_alpha_to_one false)
  const refDdim = (sigmas: ReadonlyArray<number>) => (x0T: Float64Array) => {
    let x = x0T
    for (let i = 0; i + 1 < sigmas.length; i++) {
      const p = vp(sigmas[i]!)
      const q = vp(sigmas[i + 1]!)
      const e = epsVp(x, sigmas[i]!)
      x = x.map((v, k) => q.a * ((v - p.s * e[k]!) / p.a) + q.s * e[k]!)
    }
    return x
  }
  // leading + steps_offset (Stable Diffusion): the next listed timestep is τ − N//n, as diffusers steps (with linspace/trailing
  // spacing diffusers steps to τ − N//n but evaluates at the next listed timestep: a documented difference)
  const taus = Array.from({ length: 10 }, (_, i) => 100 * (9 - i) + 1)
  const dd = convert({ _class_name: 'DDIMScheduler', ...base, clip_sample: false, set_alpha_to_one: false, timestep_spacing: 'leading', steps_offset: 1 }, taus.length)
  check('DDIMScheduler', 'leading', runConversion(dd).x, refDdim([...atSteps(taus), sdSigmaBar[0]!])(xT), 1e-12)
  // Euler: x̄ ← x̄ + (σ_{i+1} − σ_i)·(x̄ − x̂0)/σ_i, final σ = 0
  const refEuler = (sigmas: ReadonlyArray<number>, type: PredictionType) => (xbarT: Float64Array) => {
    let x = xbarT
    for (let i = 0; i + 1 < sigmas.length; i++) x = axpy(x, sigmas[i + 1]! - sigmas[i]!, derivative(x, sigmas[i]!, type))
    return x
  }
  for (const c of [
    { cfg: {}, sigmas: linspaceTaus(9).map(sigmaAtTau), type: 'epsilon' as const },
    { cfg: { use_karras_sigmas: true, prediction_type: 'v_prediction' }, sigmas: karrasSigmas(sigmaAtTau(0), sigmaAtTau(999), 11), type: 'v_prediction' as const },
    { cfg: { timestep_spacing: 'trailing' }, sigmas: [999, 856, 713, 570, 428, 285, 142].map(sigmaAtTau), type: 'epsilon' as const },
  ]) {
    const cv = convert({ _class_name: 'EulerDiscreteScheduler', ...base, ...c.cfg }, c.sigmas.length)
    const sig = [...c.sigmas, 0]
    check('EulerDiscreteScheduler', JSON.stringify(c.cfg), runConversion(cv, c.type).x, refEuler(sig, c.type)(toSigmaBar(xT, sig[0]!)), 1e-12)
  }
  t.diagnostic(['DDIMScheduler', 'EulerDiscreteScheduler'].map((g) => `${g}: max rel diff ${worst.get(g)!.toExponential(2)}`).join(', '))
})

test('Diffusers: UniPC bh1 into σ = 0 — diffusers’ update is NaN (−α_t·B(h)·0 with B(h) = h = ∞), stepwise returns its σ_t → 0 limit x̂0', () => {
  const cv = convert({ _class_name: 'UniPCMultistepScheduler', ...base, solver_type: 'bh1', final_sigmas_type: 'zero' }, 8)
  const p = Prog.compileOrThrow(cv.noiseSchedule, cv.parameterization)(cv.schedule)
  const env = F.env(Gmm.eps(g), { D: 2 })
  const st = Prog.stepper(env, p)
  const before = st.advance(0, st.steps - 1)(st.init(xT)) // the state at the last point, before the step into σ = 0
  const last = p.points.at(-1)!
  const m0 = Gmm.eps(g)(before.x, last).map((e, k) => (before.x[k]! - last.sigma * e) / last.alpha) // x̂0 there
  // diffusers' first-order UniP step (the last one is lowered to order 1) with predict_x0 and bh1, at target σ̄_t
  const uniP1 = (sbT: number): Float64Array => {
    const s = vp(last.sigma / last.alpha)
    const q = sbT === 0 ? { a: 1, s: 0, l: Infinity } : vp(sbT)
    const hh = -(q.l - s.l)
    const B = hh // bh1
    const predRes = 0 // no earlier differences at order 1
    return before.x.map((v, k) => (q.s / s.s) * v - q.a * Math.expm1(hh) * m0[k]! - q.a * B * predRes)
  }
  assert.ok(uniP1(0).every(Number.isNaN), 'diffusers’ formula at σ = 0')
  const y = F.run(p, Gmm.eps(g))(xT).x
  assert.ok(y.every(Number.isFinite))
  assert.ok(maxRel(y, m0) < 1e-14, 'stepwise: x̂0 at the last point')
  assert.ok(maxRel(uniP1(1e-9), y) < 1e-8, 'the σ_t → 0 limit of diffusers’ formula')
})

test('Diffusers: Heun, KDPM2 and LMS reproduce diffusers’ step() loops (float64, ≤ 1e-12): spacings, Karras, ε and v; 2n − 1 evaluations; KDPM2’s midpoint timesteps', (t) => {
  const leading = (n: number) => Array.from({ length: n }, (_, i) => Math.floor(1000 / n) * (n - 1 - i) + 1)
  const cases: ReadonlyArray<{
    readonly cls: 'HeunDiscreteScheduler' | 'KDPM2DiscreteScheduler' | 'LMSDiscreteScheduler'
    readonly cfg: Record<string, unknown>
    readonly sigmas: ReadonlyArray<number>
    readonly type: PredictionType
  }> = [
    { cls: 'HeunDiscreteScheduler', cfg: {}, sigmas: linspaceTaus(6).map(sigmaAtTau), type: 'epsilon' },
    { cls: 'HeunDiscreteScheduler', cfg: { use_karras_sigmas: true }, sigmas: karrasSigmas(sigmaAtTau(0), sigmaAtTau(999), 8), type: 'epsilon' },
    { cls: 'HeunDiscreteScheduler', cfg: { timestep_spacing: 'leading', steps_offset: 1, prediction_type: 'v_prediction' }, sigmas: leading(5).map(sigmaAtTau), type: 'v_prediction' },
    { cls: 'KDPM2DiscreteScheduler', cfg: {}, sigmas: linspaceTaus(6).map(sigmaAtTau), type: 'epsilon' },
    { cls: 'KDPM2DiscreteScheduler', cfg: { use_karras_sigmas: true }, sigmas: karrasSigmas(sigmaAtTau(0), sigmaAtTau(999), 7), type: 'epsilon' },
    { cls: 'KDPM2DiscreteScheduler', cfg: { timestep_spacing: 'leading', steps_offset: 1, prediction_type: 'v_prediction' }, sigmas: leading(5).map(sigmaAtTau), type: 'v_prediction' },
    { cls: 'LMSDiscreteScheduler', cfg: {}, sigmas: linspaceTaus(10).map(sigmaAtTau), type: 'epsilon' },
    { cls: 'LMSDiscreteScheduler', cfg: { use_karras_sigmas: true }, sigmas: karrasSigmas(sigmaAtTau(0), sigmaAtTau(999), 12), type: 'epsilon' },
    { cls: 'LMSDiscreteScheduler', cfg: { timestep_spacing: 'leading', steps_offset: 1, prediction_type: 'v_prediction' }, sigmas: leading(6).map(sigmaAtTau), type: 'v_prediction' },
  ]
  for (const c of cases) {
    const n = c.sigmas.length
    const cv = _.fromText(JSON.stringify({ _class_name: c.cls, ...base, ...c.cfg }), { nfe: 0, steps: n })
    if (E.isLeft(cv)) assert.fail(cv.left.map((i) => `${i.path}: ${i.message}`).join('\n'))
    const sigmas = [...c.sigmas, 0]
    const y = runConversion(cv.right, c.type)
    const ref = c.cls === 'HeunDiscreteScheduler' ? refHeun : c.cls === 'KDPM2DiscreteScheduler' ? refKdpm2 : refLms
    const r = ref(sigmas, c.type)(toSigmaBar(xT, sigmas[0]!))
    check(c.cls, `${JSON.stringify(c.cfg)} n ${n}`, y.x, r, 1e-12)
    assert.equal(y.nfe, c.cls === 'LMSDiscreteScheduler' ? n : 2 * n - 1)
  }
  // the same budget from --nfe: Heun/KDPM2 take n = ⌊(nfe + 1)/2⌋ steps
  assert.equal(convert({ _class_name: 'HeunDiscreteScheduler', ...base }, 20).inferenceSteps, 10)
  // KDPM2's model timesteps: the spacing's at the interval ends, _sigma_to_t of the λ-midpoints between, Karras ends rounded
  const k = convert({ _class_name: 'KDPM2DiscreteScheduler', ...base, use_karras_sigmas: true }, 9)
  const kt = evalTimesteps(k)
  assert.deepEqual(
    kt.filter((_v, i) => i % 2 === 0),
    kt.filter((_v, i) => i % 2 === 0).map(Math.round),
  )
  assert.ok(kt.some((v, i) => i % 2 === 1 && !Number.isInteger(v)))
  t.diagnostic(['HeunDiscreteScheduler', 'KDPM2DiscreteScheduler', 'LMSDiscreteScheduler'].map((g) => `${g}: max rel diff ${worst.get(g)!.toExponential(2)}`).join(', '))
})

test('Diffusers: DEIS (logrho) and DPMSolverSinglestep reproduce diffusers’ step() loops (float64, ≤ 1e-12): orders 1–3, spacings, Karras, noise/data, midpoint/heun, final σ', (t) => {
  const deis: ReadonlyArray<{ readonly cfg: Record<string, unknown>; readonly sigmas: ReadonlyArray<number>; readonly order: number; readonly lof?: boolean }> = [
    { cfg: {}, sigmas: [...atSteps(linTimesteps(10)), sdSigmaBar[0]!], order: 2 },
    { cfg: { solver_order: 3, timestep_spacing: 'leading', steps_offset: 1 }, sigmas: [...atSteps(Array.from({ length: 16 }, (_, k) => 58 * (16 - k) + 1)), sdSigmaBar[0]!], order: 3 },
    { cfg: { solver_order: 3, use_karras_sigmas: true }, sigmas: [...sdKarras(12), sdSigmaBar[0]!], order: 3 },
    { cfg: { solver_order: 3, lower_order_final: false }, sigmas: [...atSteps(linTimesteps(8)), sdSigmaBar[0]!], order: 3, lof: false },
    { cfg: { solver_order: 1, timestep_spacing: 'trailing' }, sigmas: [...atSteps([999, 832, 666, 499, 332, 166]), sdSigmaBar[0]!], order: 1 },
  ]
  for (const c of deis) {
    const n = c.sigmas.length - 1
    const cv = convert({ _class_name: 'DEISMultistepScheduler', ...base, ...c.cfg }, n)
    const y = runConversion(cv)
    check('DEISMultistepScheduler', `${JSON.stringify(c.cfg)} n ${n}`, y.x, refDeis(c.sigmas, c.order, c.lof ?? true)(xT), 1e-12)
  }
  const single: ReadonlyArray<{
    readonly cfg: Record<string, unknown>
    readonly sigmas: ReadonlyArray<number>
    readonly orders: ReadonlyArray<number>
    readonly algo: 'dpmsolver++' | 'dpmsolver'
    readonly st: 'midpoint' | 'heun'
  }> = [
    { cfg: {}, sigmas: [...atSteps(linTimesteps(10)), 0], orders: [1, 2, 1, 2, 1, 2, 1, 2, 1, 1], algo: 'dpmsolver++', st: 'midpoint' },
    { cfg: { solver_order: 3, solver_type: 'heun', use_karras_sigmas: true }, sigmas: [...sdKarras(12), 0], orders: [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 1], algo: 'dpmsolver++', st: 'heun' },
    {
      cfg: { solver_order: 3, algorithm_type: 'dpmsolver', final_sigmas_type: 'sigma_min' },
      sigmas: [...atSteps(linTimesteps(11)), sdSigmaBar[0]!],
      orders: [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2],
      algo: 'dpmsolver',
      st: 'midpoint',
    },
    {
      cfg: { solver_type: 'heun', lower_order_final: false, final_sigmas_type: 'sigma_min', prediction_type: 'epsilon' },
      sigmas: [...atSteps(linTimesteps(8)), sdSigmaBar[0]!],
      orders: [1, 2, 1, 2, 1, 2, 1, 2],
      algo: 'dpmsolver++',
      st: 'heun',
    },
    {
      cfg: { solver_order: 3, algorithm_type: 'dpmsolver', solver_type: 'heun', final_sigmas_type: 'sigma_min' },
      sigmas: [...atSteps(linTimesteps(9)), sdSigmaBar[0]!],
      orders: [1, 2, 3, 1, 2, 3, 1, 2, 1],
      algo: 'dpmsolver',
      st: 'heun',
    },
  ]
  for (const c of single) {
    const n = c.sigmas.length - 1
    const cv = convert({ _class_name: 'DPMSolverSinglestepScheduler', ...base, ...c.cfg }, n)
    assert.deepEqual(_.singlestepOrders(cv.config.solver_order ?? 2, n, cv.config.lower_order_final ?? true, (cv.config.final_sigmas_type ?? 'zero') === 'zero'), c.orders)
    const y = runConversion(cv)
    check('DPMSolverSinglestepScheduler', `${JSON.stringify(c.cfg)} n ${n}`, y.x, refSinglestep(c.sigmas, c.orders, c.algo, c.st)(xT), 1e-12)
    assert.equal(y.nfe, n)
  }
  t.diagnostic(['DEISMultistepScheduler', 'DPMSolverSinglestepScheduler'].map((g) => `${g}: max rel diff ${worst.get(g)!.toExponential(2)}`).join(', '))
})

// -------------------------------------------------------------------------------------------------
// the diffusers-style scheduler
// -------------------------------------------------------------------------------------------------

/** a pipeline written against diffusers' scheduler API: noise × initNoiseSigma, then scaleModelInput → network → step */
const pipeline = (sch: Sch.Scheduler, n: number, unet: (x: Float64Array, t: number, k: number) => Float64Array, noise: Float64Array): Float64Array => {
  sch.setTimesteps(n)
  let x: Float64Array = noise.map((v) => v * sch.initNoiseSigma)
  sch.timesteps.forEach((t, k) => {
    x = sch.step(unet(sch.scaleModelInput(x, t), t, k), t, x).prevSample
  })
  return x
}

test('Scheduler: the setTimesteps / scaleModelInput / step loop gives exactly Float64.run of the same program (bitwise), for multistep, corrector, Heun, singlestep, PLMS and stochastic documents', () => {
  const ns = NS.vpLinear()
  const model = Gmm.eps(g)
  for (const id of ['ddim', 'dpmpp-2m', 'dpmpp-3m', 'unipc-bh2-3', 'heun', 'dpm2', 'dpmpp-3s', 'plms', 'lms', 'deis-logrho2', 'euler-ancestral', 'sde-dpmpp-2m']) {
    const named = Solvers.byId(id)!
    const sch = Sch.make({ noiseSchedule: ns, parameterization: 'eps', schedule: (n) => named.build({ nfe: n }), D: 2, seed: 5 })
    for (const nfe of [6, 9]) {
      sch.setTimesteps(nfe)
      const p = sch.program
      const want = F.run(p, model, { D: 2, seed: 5 })(xT)
      // the network at each evaluation: the analytic model at that evaluation's point
      const y = pipeline(sch, nfe, (x, _t, k) => model(x, sch.evaluationPoints[k]!), xT)
      assert.equal(sch.timesteps.length, p.nfe, `${id}: one timestep per model evaluation`)
      assert.equal(maxAbs(y, want.x), 0, `${id} nfe ${nfe}: scheduler loop vs Float64.run`)
    }
  }
  // σ̄ samples (the Euler family's convention): x̄ = x/α in and out, equal to float64 rounding
  const eu = Sch.make({ noiseSchedule: ns, parameterization: 'eps', schedule: (n) => Solvers.byId('heun')!.build({ nfe: n }), samples: 'sigmaBar' })
  eu.setTimesteps(8)
  const ref = F.run(eu.program, model)(xT).x
  const a0 = eu.evaluationPoints[0]!.alpha
  const y = pipeline(
    eu,
    8,
    (x, _t, k) => model(x, eu.evaluationPoints[k]!),
    xT.map((v) => v / a0 / eu.initNoiseSigma),
  )
  const aEnd = eu.program.points.at(-1)!.alpha
  assert.ok(
    maxRel(
      y.map((v) => v * aEnd),
      ref,
    ) < 1e-14,
  )
  // misuse: step before setTimesteps, a wrong timestep, too many steps, a fixed document's NFE
  const fresh = Sch.make({ noiseSchedule: ns, parameterization: 'eps', schedule: Solvers.byId('ddim')!.build({ nfe: 3 }) })
  assert.throws(() => fresh.step(xT, 1, xT), /setTimesteps/)
  assert.throws(() => fresh.setTimesteps(4), /fixed document of NFE 3/)
  fresh.setTimesteps(3)
  assert.throws(() => fresh.step(xT, 0.5, xT), /expected timesteps\[0\]/)
  const done = pipeline(fresh, 3, (x, _t, k) => model(x, fresh.evaluationPoints[k]!), xT)
  assert.equal(done.length, xT.length)
  assert.throws(() => fresh.step(xT, fresh.timesteps[0]!, xT), /all 3 timesteps are done/)
  const churn = Sch.make({ noiseSchedule: ns, parameterization: 'eps', schedule: (n) => Solvers.byId('euler-churn')!.build({ nfe: n, set: { sTmax: 'inf', sTmin: '0' } }) })
  assert.throws(() => churn.setTimesteps(5), /before its first model evaluation/)
})

test('Scheduler.fromDiffusers: diffusers’ timesteps, init_noise_sigma and scaling; the loop reproduces the conversion’s run; stochastic steps take the caller’s draws', () => {
  // DPMSolverMultistep (SD 1.5): x samples, integer timesteps, init_noise_sigma 1
  const dpm = Sch.fromDiffusers(sd15, { D: 2 })
  dpm.setTimesteps(10)
  assert.deepEqual(dpm.timesteps, [901, 811, 721, 631, 541, 451, 361, 271, 181, 91])
  assert.equal(dpm.initNoiseSigma, 1)
  const model = Gmm.eps(g)
  const y = pipeline(dpm, 10, (x, _t, k) => model(x, dpm.evaluationPoints[k]!), xT)
  assert.equal(maxAbs(y, runConversion(convert(sd15, 10)).x), 0)
  // Euler ancestral: σ̄ samples, init_noise_sigma σ̄_max (linspace), diffusers' draws given per step
  const cfg = JSON.stringify({ _class_name: 'EulerAncestralDiscreteScheduler', ...base })
  const ea = Sch.fromDiffusers(cfg, { D: 2 })
  const n = 8
  ea.setTimesteps(n)
  const sigmas = [...linspaceTaus(n).map(sigmaAtTau), 0]
  assert.deepEqual(ea.timesteps, linspaceTaus(n))
  assert.ok(Math.abs(ea.initNoiseSigma - sigmas[0]!) < 1e-12 * sigmas[0]!)
  assert.ok(maxRel(Float64Array.from(ea.sigmas), Float64Array.from(sigmas)) < 1e-12)
  const zs = draws(n, 9)
  let x: Float64Array = xT.map((v) => v * ea.initNoiseSigma) // x̄_T
  ea.timesteps.forEach((t, k) => {
    x = ea.step(model(ea.scaleModelInput(x, t), ea.evaluationPoints[k]!), t, x, { noise: zs[k]! }).prevSample
  })
  const r = refEulerAncestral(sigmas, zs, 'epsilon')(xT.map((v) => v * sigmas[0]!))
  assert.ok(maxRel(x, r) <= 1e-12, `scheduler Euler ancestral vs diffusers' step(): ${maxRel(x, r)}`)
  // Heun: 2n − 1 timesteps with the duplicates diffusers lists, order 2
  const he = Sch.fromDiffusers(JSON.stringify({ _class_name: 'HeunDiscreteScheduler', ...base, timestep_spacing: 'leading', steps_offset: 1 }))
  he.setTimesteps(5)
  assert.deepEqual(he.timesteps, [801, 601, 601, 401, 401, 201, 201, 1, 1])
  assert.equal(he.order, 2)
  assert.ok(Math.abs(he.initNoiseSigma - Math.sqrt(sigmaAtTau(801) ** 2 + 1)) < 1e-12)
  assert.throws(() => Sch.fromDiffusers(JSON.stringify({ _class_name: 'DPMSolverSDEScheduler' })).setTimesteps(5), /cannot be converted/)
})

test('Diffusers: Karras + final σ_min drops diffusers’ zero-length last step; exact 3rd order is the default, with a note', () => {
  const k = convert({ _class_name: 'DPMSolverMultistepScheduler', ...base, use_karras_sigmas: true, final_sigmas_type: 'sigma_min' }, 10)
  assert.deepEqual(k.schedule.grid, { spacing: 'karras', steps: 9, rho: 7, T: 1, t0: 0.001 })
  assert.equal(k.schedule.options, undefined)
  assert.match(k.notes.join('\n'), /zero-length/)
  assert.deepEqual(evalTimesteps(k), [999, 916, 815, 687, 523, 327, 146, 41, 7]) // diffusers' 10th evaluation (at σ_min again) is the dropped zero-length step
  const e = convert({ _class_name: 'DPMSolverMultistepScheduler', ...base, solver_order: 3 }, 20)
  assert.ok(e.schedule.steps.some((s) => s.order === 3 && s.halveSecondDerivative === undefined))
  assert.match(e.notes.join('\n'), /--parity reference/)
  const r = convert({ _class_name: 'DPMSolverMultistepScheduler', ...base, solver_order: 3 }, 20, 'reference')
  assert.ok(r.schedule.steps.some((s) => s.order === 3 && s.halveSecondDerivative === true))
})

test('Diffusers: UniPC, DDIM, Euler, PNDM and FlowMatch configs become the matching schedules', () => {
  const u = convert({ _class_name: 'UniPCMultistepScheduler', ...base, disable_corrector: [2] }, 8)
  assert.equal(u.solver, 'unipc-bh2-2')
  assert.deepEqual(
    u.schedule.steps.map((s) => s.corrector !== undefined),
    [true, true, false, true, true, true, false],
  ) // none at 2 (disabled), none before the step into σ = 0
  assert.deepEqual(u.schedule.options, { denoiseToZero: true })
  const dd = convert({ _class_name: 'DDIMScheduler', ...base, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 }, 10)
  assert.deepEqual(evalTimesteps(dd), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1])
  assert.equal(dd.schedule.grid.spacing === 'explicit' ? dd.schedule.grid.t.at(-1) : NaN, 0.001) // the final ᾱ_0
  const eu = convert({ _class_name: 'EulerDiscreteScheduler', ...base, timestep_spacing: 'leading', steps_offset: 1 }, 10)
  assert.deepEqual(evalTimesteps(eu), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1])
  assert.equal(eu.schedule.steps[0]!.basis, 'rho')
  const ek = convert({ _class_name: 'EulerDiscreteScheduler', ...base, use_karras_sigmas: true }, 10)
  const ekT = evalTimesteps(ek)
  assert.ok(
    ekT.some((v) => !Number.isInteger(v)),
    'Euler passes fractional timesteps with Karras σ’s',
  )
  const pn = convert({ _class_name: 'PNDMScheduler', ...base, skip_prk_steps: true, steps_offset: 1 }, 11)
  assert.equal(pn.inferenceSteps, 10)
  assert.equal(Prog.compileOrThrow(pn.noiseSchedule, 'eps')(pn.schedule).nfe, 11)
  assert.equal(pn.solver, 'plms')
  const fm = convert({ _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0 }, 8)
  assert.equal(fm.parameterization, 'flow')
  const fmT = evalTimesteps(fm)
  assert.equal(fmT[0], 1000) // the grid starts 1e-6 below σ = 1 (α = 0), the model still reads 1000
  assert.match(fm.notes.join('\n'), /1 − 1e-6/)
  const sh = _.shiftSigma(3)
  assert.ok(Math.abs(fmT.at(-1)! - 1000 * sh(sh(1 / 1000))) < 1e-9, 'σ_min shifted twice, as diffusers does')
  // flow Euler on a flow model reproduces x ← x + (σ′ − σ)·u exactly (linear field u = x/σ − 0 is the x0 = 0 data)
  const prog = Prog.compileOrThrow(fm.noiseSchedule, 'flow')(fm.schedule)
  const u0 = (x: Float64Array, at: NS.Point) => x.map((v) => v / at.t - 0.5 * (at.t > 0 ? 1 : 0)) // x0 = x − σu = 0.5σ… any affine field
  const sig = fm.schedule.grid.spacing === 'explicit' ? fm.schedule.grid.t : []
  let x = Float64Array.from([0.3, -1.2])
  for (let i = 0; i < sig.length; i++) {
    const s = sig[i]!
    const next = i + 1 < sig.length ? sig[i + 1]! : 0
    const uu = u0(x, { t: s, alpha: 1 - s, sigma: s, lambda: 0 })
    x = x.map((v, k) => v + (next - s) * uu[k]!)
  }
  const y = F.run(prog, u0)(Float64Array.from([0.3, -1.2])).x
  assert.ok(maxRel(y, x) < 1e-12, `flow Euler ${y} vs ${x}`)
})

test('Diffusers: unsupported values are issues naming the key and the supported values; unknown keys are notes', () => {
  const a = issues({ _class_name: 'DPMSolverMultistepScheduler', beta_schedule: 'sigmoid' })
  assert.equal(a[0]!.path, 'beta_schedule')
  assert.match(a[0]!.message, /linear, scaled_linear, squaredcos_cap_v2/)
  const b = issues({ _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'sde-dpmsolver', solver_type: 'rk4', thresholding: true })
  assert.deepEqual(b.map((i) => i.path).sort(), ['algorithm_type', 'solver_type', 'thresholding'])
  assert.match(b.find((i) => i.path === 'algorithm_type')!.message, /stochastic.*supported: dpmsolver\+\+, dpmsolver, sde-dpmsolver\+\+/)
  assert.ok(b.every((i) => !i.message.includes('undefined')))
  assert.equal(issues({ _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'sde-dpmsolver++', solver_order: 3 })[0]!.path, 'solver_order')
  assert.match(issues({ _class_name: 'DPMSolverSDEScheduler' })[0]!.message, /supported: DPMSolverMultistepScheduler/)
  assert.equal(issues({ _class_name: 'EulerAncestralDiscreteScheduler', use_karras_sigmas: true })[0]!.path, 'use_karras_sigmas')
  assert.equal(issues({ _class_name: 'HeunDiscreteScheduler', prediction_type: 'sample' })[0]!.path, 'prediction_type')
  assert.match(issues({ _class_name: 'DPMSolverSinglestepScheduler', solver_order: 3, use_karras_sigmas: true, final_sigmas_type: 'sigma_min' }, 11)[0]!.message, /zero-length step of order 2/)
  assert.equal(issues({ beta_start: 0.001 })[0]!.path, '_class_name')
  assert.equal(issues({ _class_name: 'DPMSolverMultistepScheduler', prediction_type: 'x0' })[0]!.path, 'prediction_type')
  assert.match(issues({ _class_name: 'DDIMScheduler' })[0]!.message, /clip_sample/) // the class default is true
  assert.equal(issues({ _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'dpmsolver' })[0]!.path, 'final_sigmas_type')
  assert.equal(issues('{"_class_name": "DPMSolverMultistepScheduler",')[0]!.path, '(root)')
  const cv = convert({ _class_name: 'DPMSolverMultistepScheduler', brand_new_option: 3 }, 5)
  assert.match(cv.notes.join('\n'), /brand_new_option/)
  assert.deepEqual(_.parseJson('{"a": -Infinity, "b": "NaN and Infinity", "c": [Infinity, NaN]}'), { a: '-Infinity', b: 'NaN and Infinity', c: ['Infinity', 'NaN'] })
  assert.equal(_.roundHalfEven(2.5), 2)
  assert.equal(_.roundHalfEven(3.5), 4)
  assert.equal(_.roundHalfEven(-0.5), -0)
})

// -------------------------------------------------------------------------------------------------
// Interop names
// -------------------------------------------------------------------------------------------------

test('Interop: A1111 / k-diffusion / ComfyUI / diffusers names map to stepwise solvers, case-insensitively, with schedule suffixes', () => {
  const m = Interop.lookup('DPM++ 2M Karras')!
  assert.equal(m.solver, 'k-dpmpp-2m')
  assert.equal(m.grid, 'karras')
  assert.equal(Interop.lookup('dpm++ 2m karras')!.solver, 'k-dpmpp-2m')
  assert.equal(Interop.lookup('dpmpp_2m')!.solver, 'k-dpmpp-2m')
  assert.equal(Interop.lookup('sample_dpmpp_2m')!.solver, 'k-dpmpp-2m')
  assert.equal(Interop.lookup('DPMSolverMultistepScheduler')!.solver, 'dpmpp-2m')
  assert.equal(Interop.lookup('UniPCMultistepScheduler')!.solver, 'unipc-bh2-2')
  assert.equal(Interop.lookup('DPM++ 2M Exponential')!.grid, 'logSNR')
  const ea = Interop.lookup('Euler a')!
  assert.equal(ea.entry.relation, 'stochastic')
  if (ea.solver === undefined) assert.match(Interop.describe(ea), /stochastic solvers, which are not built yet/)
  assert.equal(Interop.lookup('no such sampler'), undefined)
  assert.ok(Interop.nearest('dpmpp_2').length > 0)
  // every 'same'/'closest' entry names a built solver, and no spelling maps to two entries
  for (const e of Interop.entries.filter((x) => x.relation === 'same' || x.relation === 'closest'))
    assert.ok(Solvers.byId(e.stepwise[0]!) !== undefined, `${e.name}: ${e.stepwise[0]} is not a named solver`)
  const seen = new Map<string, string>()
  for (const e of Interop.entries)
    for (const a of e.aliases) {
      const k = Interop.key(a)
      assert.ok(!seen.has(k) || seen.get(k) === e.name, `'${a}' is an alias of ${seen.get(k)} and ${e.name}`)
      seen.set(k, e.name)
    }
})

// -------------------------------------------------------------------------------------------------
// CLI
// -------------------------------------------------------------------------------------------------

/** the CLI in this process (console captured): spawning costs ~1 s per command */
const cli = async (...args: string[]) => {
  const out: string[] = []
  const err: string[] = []
  const log = console.log
  const error = console.error
  console.log = (...a: unknown[]) => void out.push(a.join(' '))
  console.error = (...a: unknown[]) => void err.push(a.join(' '))
  try {
    const code = await main(args)
    return { code, out: out.join('\n'), err: err.join('\n') }
  } finally {
    console.log = log
    console.error = error
  }
}

test('CLI: from-diffusers → schedule + problem file; explain --diffusers and --problem print the same steps; solvers --from', async () => {
  const s = path.join(tmp, 's.json')
  const p = path.join(tmp, 'p.json')
  const r = await cli('from-diffusers', SD15, '--nfe', '10', '--out', s, '--problem-out', p)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /DPMSolverMultistepScheduler, 10 inference steps/)
  assert.match(r.out, /model timesteps: 901, 811, 721, 631, 541, 451, 361, 271, 181, 91/)
  assert.equal((await cli('validate', s)).code, 0)
  const ed = await cli('explain', s, '--diffusers', SD15)
  assert.equal(ed.code, 0, ed.err)
  const ep = await cli('explain', s, '--problem', p)
  assert.equal(ep.code, 0, ep.err)
  const steps = (t: string) => t.split('\n').filter((l) => /^\s+(step|denoise)/.test(l))
  assert.equal(steps(ed.out).length, 10)
  assert.deepEqual(steps(ed.out), steps(ep.out))
  const x = path.join(tmp, 'x.json')
  fs.writeFileSync(
    x,
    JSON.stringify({
      data: [
        [0.1, 0.2],
        [1, -1],
      ],
    }),
  )
  const sm = await cli('sample', '--problem', p, '--schedule', s, '--xT', x, '--out', path.join(tmp, 'o.json'))
  assert.equal(sm.code, 0, sm.err)
  const from = await cli('solvers', '--from', 'DPM++ 2M Karras')
  assert.equal(from.code, 0, from.err)
  assert.match(from.out, /k-dpmpp-2m.*grid karras/)
  assert.match((await cli('solvers', '--from', 'Euler a')).out, /stochastic|euler-ancestral/)
  assert.equal((await cli('solvers', '--from', 'Eular b')).code, 1)
  // the installed bin, as a user runs it
  const bin = spawnSync(process.execPath, [path.join(root, 'bin/stepwise.js'), 'solvers', '--from', 'dpmpp_2m'], { encoding: 'utf8', cwd: tmp })
  assert.equal(bin.status, 0, bin.stderr)
  assert.match(bin.stdout, /k-dpmpp-2m/)
  const bad = path.join(tmp, 'bad.json')
  fs.writeFileSync(bad, JSON.stringify({ _class_name: 'DPMSolverMultistepScheduler', timestep_spacing: 'uniform' }))
  const b = await cli('from-diffusers', bad)
  assert.equal(b.code, 1)
  assert.match(b.err, /timestep_spacing: got "uniform"; expected one of linspace, leading, trailing/)
})

test('CLI: from-diffusers for the new classes; sample --timestep-input diffusers evaluates the exact model at diffusers’ rounded timesteps', async () => {
  const cfg = path.join(tmp, 'karras.json')
  fs.writeFileSync(cfg, JSON.stringify({ _class_name: 'DPMSolverMultistepScheduler', ...base, use_karras_sigmas: true, algorithm_type: 'sde-dpmsolver++' }))
  const s = path.join(tmp, 'ks.json')
  const p = path.join(tmp, 'kp.json')
  const r = await cli('from-diffusers', cfg, '--nfe', '20', '--out', s, '--problem-out', p)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /stochastic: fresh noise every step/)
  const x = path.join(tmp, 'kx.json')
  const rows = [
    [0.3, -0.7],
    [1.1, 0.2],
  ]
  fs.writeFileSync(x, JSON.stringify({ data: rows }))
  const out = (f: string) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { x0: number[][] }).x0.flat()
  const o1 = path.join(tmp, 'ko1.json')
  const o2 = path.join(tmp, 'ko2.json')
  assert.equal((await cli('sample', '--problem', p, '--schedule', s, '--xT', x, '--out', o1, '--seed', '3')).code, 0)
  const d = await cli('sample', '--problem', p, '--schedule', s, '--xT', x, '--out', o2, '--seed', '3', '--timestep-input', 'diffusers')
  assert.equal(d.code, 0, d.err)
  // by hand: the mixture's exact ε at the point of diffusers' timestep τ (t = (τ + 1)/N), the same draws
  const cv = convert(JSON.parse(fs.readFileSync(cfg, 'utf8')) as Record<string, unknown>, 20)
  const pf = JSON.parse(fs.readFileSync(p, 'utf8')) as { problem: Gmm.Gmm }
  const ns = cv.noiseSchedule
  const tau = _.timestepOf(cv)
  const prog = Prog.compileOrThrow(ns, 'eps')(cv.schedule)
  const want = F.run(prog, (xx, at) => Gmm.eps(pf.problem)(xx, NS.point(ns)((tau(at) + 1) / 1000)), { D: 2, seed: 3 })(Float64Array.from(rows.flat())).x
  assert.ok(maxRel(Float64Array.from(out(o2)), want) < 1e-12)
  assert.ok(maxRel(Float64Array.from(out(o1)), want) > 1e-6, 'evaluating at σ differs from diffusers’ rounded timesteps')
  assert.equal((await cli('sample', '--problem', p, '--schedule', s, '--xT', x, '--out', o2, '--timestep-input', 'rounded')).code, 2)
  // every new class converts from the command line
  for (const cls of ['EulerAncestralDiscreteScheduler', 'HeunDiscreteScheduler', 'KDPM2DiscreteScheduler', 'LMSDiscreteScheduler', 'DEISMultistepScheduler', 'DPMSolverSinglestepScheduler']) {
    const f = path.join(tmp, `${cls}.json`)
    fs.writeFileSync(f, JSON.stringify({ _class_name: cls, ...base }))
    const c = await cli('from-diffusers', f, '--steps', '6', '--out', path.join(tmp, `${cls}.s.json`))
    assert.equal(c.code, 0, `${cls}: ${c.err}`)
    assert.match(c.out, new RegExp(`${cls}, 6 inference steps`))
  }
})

// -------------------------------------------------------------------------------------------------
// TfjsModel
// -------------------------------------------------------------------------------------------------

test('TfjsModel: a LayersModel saved to files and loaded back runs as a stepwise model (float32 vs float64 ≤ 1e-4)', async () => {
  await Tfjs.init('wasm')
  const D = 2
  // ε(x, τ) = W·x + b + c·τ/1000 with fixed weights
  const xIn = tf.input({ shape: [D] })
  const tIn = tf.input({ shape: [1] })
  const cat = tf.layers.concatenate().apply([xIn, tIn]) as tf.SymbolicTensor
  const out = tf.layers.dense({ units: D, useBias: true, kernelInitializer: 'zeros' }).apply(cat) as tf.SymbolicTensor
  const net = tf.model({ inputs: [xIn, tIn], outputs: out })
  const W = [
    [0.5, -0.2],
    [0.1, 0.7],
    [0.3, -0.4], // the τ row
  ]
  const b = [0.05, -0.1]
  net.layers[net.layers.length - 1]!.setWeights([tf.tensor2d(W.map((r, i) => (i === D ? r.map((v) => v / 1000) : r))), tf.tensor1d(b)])
  const dir = path.join(tmp, 'layers')
  await net.save(TM.fileSaver(dir))
  assert.ok(fs.existsSync(path.join(dir, 'model.json')) && fs.existsSync(path.join(dir, 'weights.bin')))
  const loaded = await TM.load(path.join(dir, 'model.json'))
  assert.equal(TM.wiringOf(loaded, D), 'pair')
  const cv = convert(sd15, 8)
  const m = TM.fromNetwork(loaded, _.modelInput(cv))
  const prog = Prog.compileOrThrow(cv.noiseSchedule, m.param)(cv.schedule)
  const x32 = Tfjs.fromFloat64(xT, D)
  const before = tf.memory().numTensors
  const r = Tfjs.run(prog, m.call)(x32)
  const y = Tfjs.toFloat64(r.x)
  r.x.dispose()
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind')
  const tau = _.timestepOf(cv)
  const f64 = (x: Float64Array, at: NS.Point) => {
    const t = tau(at) / 1000
    return x.map((_v, k) => {
      const row = Math.floor(k / D) * D
      const j = k % D
      return x[row]! * W[0]![j]! + x[row + 1]! * W[1]![j]! + t * W[2]![j]! + b[j]!
    })
  }
  const ref = F.run(prog, f64)(xT).x
  assert.ok(maxRel(y, ref) < 1e-4, `tfjs vs float64: ${maxRel(y, ref)}`)
  x32.dispose()
  m.dispose()
  net.dispose()
})

test('TfjsModel: a GraphModel (model.json + weights.bin) loads from files; time inputs', async () => {
  await Tfjs.init('wasm')
  const dir = path.join(tmp, 'graph')
  fs.mkdirSync(dir, { recursive: true })
  const f = (name: string) => ({ name, attr: { dtype: { type: 'DT_FLOAT' } } })
  const dims = (...d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) })
  const model = {
    format: 'graph-model',
    generatedBy: 'test',
    convertedBy: 'hand',
    modelTopology: {
      node: [
        { ...f('x'), op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dims(-1, 3) } } },
        { ...f('W'), op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(3, 2) } } } },
        { name: 'out', op: 'MatMul', input: ['x', 'W'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'W', shape: [3, 2], dtype: 'float32' }] }],
  }
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(model))
  fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(Float32Array.from([1, 0, 0, 1, 0.5, -0.5]).buffer))
  const net = await TM.load(path.join(dir, 'model.json'))
  assert.equal(TM.wiringOf(net, 2), 'concat')
  const m = TM.fromNetwork(net, { param: 'eps', time: { timestep: 1000 } })
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
  ])
  const at = NS.point(NS.vpLinear())(0.5)
  const y = m.call(x, at)
  assert.deepEqual(Array.from(y.dataSync()), [1 + 0.5 * 499, 2 - 0.5 * 499, 3 + 0.5 * 499, 4 - 0.5 * 499])
  y.dispose()
  x.dispose()
  m.dispose()
  assert.equal(TM.timeOf('scaled999')(at), 999 * 0.5)
  assert.equal(TM.timeOf({ scaled: 1000 })(at), 500)
  assert.equal(TM.timeOf({ timestep: 1000 })({ ...at, t: 0.001 }), 0)
  assert.ok(Math.abs(TM.timeOf('sigmaBar')(at) - at.sigma / at.alpha) < 1e-12)
  await assert.rejects(TM.load(path.join(tmp, 'missing', 'model.json')), /cannot read the model/)
})

// -------------------------------------------------------------------------------------------------
// Backends
// -------------------------------------------------------------------------------------------------

const missing = (s: string) => Object.assign(new Error(`Cannot find package '${s}' imported from ${root}/src/run/Backends.ts`), { code: 'ERR_MODULE_NOT_FOUND' })

test('Backends: parse, platform checks, tfjs-node discovery and the errors when it is missing or broken', async () => {
  assert.deepEqual(Backends.parse(undefined), E.right('wasm'))
  assert.deepEqual(Backends.parse('tensorflow'), E.right('tensorflow'))
  assert.ok(E.isLeft(Backends.parse('metal')))
  assert.equal(Backends.platform(), 'node')
  for (const b of ['webgl', 'webgpu'] as const) {
    const p = Backends.plan(b, 'node')
    assert.ok(E.isLeft(p) && p.left.includes('needs a browser'), b)
    assert.ok(E.isRight(Backends.plan(b, 'browser')))
  }
  assert.ok(E.isLeft(Backends.plan('tensorflow', 'browser')))
  const tfPlan = Backends.plan('tensorflow', 'node')
  assert.ok(E.isRight(tfPlan))
  // none installed (the real state here): the clear error
  const installed = tfPlan.right.imports.some((s) => fs.existsSync(path.join(root, 'node_modules', s)))
  if (!installed) await assert.rejects(Backends.load(tfPlan.right), /backend 'tensorflow' needs @tensorflow\/tfjs-node \(npm install @tensorflow\/tfjs-node@4\.22\.0.*it is not installed/)
  await assert.rejects(
    Backends.load(tfPlan.right, async (s) => Promise.reject(missing(s))),
    /it is not installed/,
  )
  await assert.rejects(Backends.select('webgl'), /needs a browser/)
  // gpu package missing, cpu package present: the cpu one is used
  const tried: string[] = []
  const got = await Backends.load(tfPlan.right, async (s) => {
    tried.push(s)
    if (s === '@tensorflow/tfjs-node-gpu') throw missing(s)
    return {}
  })
  assert.deepEqual(got, ['@tensorflow/tfjs-node'])
  assert.deepEqual(tried, ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'])
  // installed but broken (no native binding): the cause is reported, not "not installed"
  await assert.rejects(
    Backends.load(tfPlan.right, async () => Promise.reject(new Error('libtensorflow.so: cannot open shared object file'))),
    /installed but failed to load: libtensorflow/,
  )
  // loaded but registered with another tfjs-core copy: say which version to install
  await assert.rejects(Backends.select('tensorflow', { importer: async () => ({}) }), /not registered with this @tensorflow\/tfjs \(4\.22\.0\)/)
  await Backends.select('cpu')
  assert.equal(tf.getBackend(), 'cpu')
  await Backends.select('wasm')
  assert.equal(tf.getBackend(), 'wasm')
})

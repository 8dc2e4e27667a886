/**
 * Coefficient rules of the exponential integrator. A rule maps scalars (the start point s, the
 * target t and the node points whose model outputs are combined) to float64 coefficients
 *   x_t = A·x_s + Σ_j c_j·m_j,
 * where m is the noise prediction ε (noise form) or the data prediction x0 (data form).
 * Everything here is plain numbers: tensors are touched once, by the interpreter.
 */
import type { NoiseSchedule, Point } from './NoiseSchedule.ts'
import type { Prediction } from './Parameterization.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/**
 * interpolation basis of the model output between nodes:
 * 'lambda' exact Lagrange in λ (DPM-Solver taylor, UniPC, USF); 't' Lagrange in t (DEIS tAB);
 * 'rho' Lagrange in σ̄ = e^{−λ} (k-diffusion Euler/Heun/LMS, DEIS ρAB); 'ab' fixed equal-step
 * Adams–Bashforth (predictor) or Adams–Moulton (corrector) weights followed by a DDIM transfer (PLMS, iPNDM).
 */
export type Basis = 'lambda' | 't' | 'rho' | 'ab'

/** USF relaxation of the first-derivative estimate: d₁ ← f(h')·d₁ (h' = −h in data form, h in noise form) */
export type Relaxation = 'none' | 'dpmsolver-2' | 'unipc-bh1' | '0.5exp' | '-0.5exp' | { readonly linear: number }

/** everything that decides a step's coefficients besides the points */
export interface Rule {
  readonly prediction: Prediction
  readonly basis: Basis
  readonly relaxation: Relaxation
  /** parity: the reference 3M multiplies the second-derivative term by ½ (docs/math.md#reference-3m) */
  readonly halveSecondDerivative: boolean
  /** 'ab' basis only: use Adams–Moulton (the target is the first node) instead of Adams–Bashforth */
  readonly implicit: boolean
  /** SDE noise η ≥ 0 (data form): the kernel exponent becomes (1+η)h and x_s is damped by e^{−ηh}; 0 = ODE */
  readonly eta?: number
  /** GHVB's β for the 'ab' basis: generalized Adams–Bashforth weights P_k(·; β) (1 = plain AB) */
  readonly abBeta?: number
}

/** x_t = onStart·x_s + Σ_j onNodes[j]·m_j */
export interface Coefficients {
  readonly onStart: number
  readonly onNodes: ReadonlyArray<number>
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the exact λ-Lagrange rule (order = number of nodes) */
export const lagrange = (prediction: Prediction): Rule => ({
  prediction,
  basis: 'lambda',
  relaxation: 'none',
  halveSecondDerivative: false,
  implicit: false,
})

// -------------------------------------------------------------------------------------------------
// utils: φ functions, small linear algebra, quadrature
// -------------------------------------------------------------------------------------------------

const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1))

/** φ_k(z) = Σ_{j≥0} z^j/(j+k)! for |z| < 1, else φ_{k+1}(z) = (φ_k(z) − 1/k!)/z from φ_1 = expm1(z)/z */
export const phi = (k: number, z: number): number => {
  if (k === 0) return Math.exp(z)
  if (Math.abs(z) < 1) {
    let term = 1 / factorial(k)
    let sum = term
    for (let j = 1; j < 40; j++) {
      term *= z / (j + k)
      sum += term
      if (Math.abs(term) < 1e-18 * Math.abs(sum)) break
    }
    return sum
  }
  let p = Math.expm1(z) / z
  for (let j = 1; j < k; j++) p = (p - 1 / factorial(j)) / z
  return p
}

/** solve A·x = b (n ≤ 8) by Gaussian elimination with partial pivoting */
export const solve = (A: ReadonlyArray<ReadonlyArray<number>>, b: ReadonlyArray<number>): ReadonlyArray<number> => {
  const n = b.length
  const M = A.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < n; c++) {
    let p = c
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r
    if (M[p]![c] === 0) throw new Error('singular node system: two nodes share the same time')
    const tmp = M[c]!
    M[c] = M[p]!
    M[p] = tmp
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!
    for (let k = r + 1; k < n; k++) s -= M[r]![k]! * x[k]!
    x[r] = s / M[r]![r]!
  }
  return x
}

// 8-point Gauss–Legendre nodes and weights on [−1, 1]
const GL_X = [-0.9602898564975363, -0.7966664774136267, -0.525532409916329, -0.1834346424956498, 0.1834346424956498, 0.525532409916329, 0.7966664774136267, 0.9602898564975363]
const GL_W = [0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.362683783378362, 0.362683783378362, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763]

/** ∫_a^b f by composite 8-point Gauss–Legendre over `panels` equal panels */
export const integrate = (f: (x: number) => number, a: number, b: number, panels = 1): number => {
  const w = (b - a) / panels
  let sum = 0
  for (let p = 0; p < panels; p++) {
    const lo = a + w * p
    const mid = lo + w / 2
    for (let i = 0; i < 8; i++) sum += GL_W[i]! * f(mid + (w / 2) * GL_X[i]!)
  }
  return (sum * w) / 2
}

/** ℓ_j(u) = Π_{k≠j} (u − u_k)/(u_j − u_k) */
const lagrangeBasis =
  (us: ReadonlyArray<number>, j: number) =>
  (u: number): number => {
    let p = 1
    for (let k = 0; k < us.length; k++) if (k !== j) p *= (u - us[k]!) / (us[j]! - us[k]!)
    return p
  }

/** equal-step Adams–Bashforth weights, newest first */
export const adamsBashforth: ReadonlyArray<ReadonlyArray<number>> = [
  [1],
  [3 / 2, -1 / 2],
  [23 / 12, -16 / 12, 5 / 12],
  [55 / 24, -59 / 24, 37 / 24, -9 / 24],
  [1901 / 720, -2774 / 720, 2616 / 720, -1274 / 720, 251 / 720],
]
/** equal-step Adams–Moulton weights, the new point first */
export const adamsMoulton: ReadonlyArray<ReadonlyArray<number>> = [[1], [1 / 2, 1 / 2], [5 / 12, 8 / 12, -1 / 12], [9 / 24, 19 / 24, -5 / 24, 1 / 24]]

/** GHVB's generalized Adams–Bashforth weights P_k(y; b), newest first (b = 1: AB1..AB5), docs/math.md#ghvb */
export const generalizedAB = (b: number): ReadonlyArray<ReadonlyArray<number>> => [
  [1],
  [(2 + b) / (2 * b), -(2 - b) / (2 * b)],
  [(18 + 5 * b) / (12 * b), -(24 - 8 * b) / (12 * b), (6 - b) / (12 * b)],
  [(46 + 9 * b) / (24 * b), -(78 - 19 * b) / (24 * b), (42 - 5 * b) / (24 * b), -(10 - b) / (24 * b)],
  [(1650 + 251 * b) / (720 * b), -(3420 - 646 * b) / (720 * b), (2880 - 264 * b) / (720 * b), -(1380 - 106 * b) / (720 * b), (270 - 19 * b) / (720 * b)],
]

/** relaxation factor f(h'): dpmsolver-2 φ₁/(2φ₂); unipc-bh1 1/(2φ₂); 0.5exp 1 + ½expm1(h'); −0.5exp 1 − ½expm1(h'); linear 1 + c·h */
export const relaxationFactor = (r: Relaxation, hh: number, h: number): number => {
  if (typeof r === 'object') return 1 + r.linear * h
  switch (r) {
    case 'none':
      return 1
    case 'dpmsolver-2':
      return phi(1, hh) / (2 * phi(2, hh))
    case 'unipc-bh1':
      return 1 / (2 * phi(2, hh))
    case '0.5exp':
      return 1 + 0.5 * Math.expm1(hh)
    case '-0.5exp':
      return 1 - 0.5 * Math.expm1(hh)
  }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/**
 * The coefficients of one exponential-integrator step s → t combining the model outputs at `nodes`:
 * data  x_t = (σ_t/σ_s)·x_s + σ_t·∫ e^{λ} P(λ) dλ,   noise  x_t = (α_t/α_s)·x_s − α_t·∫ e^{−λ} P(λ) dλ,
 * P the interpolant of the outputs in the rule's basis. In λ, with u = (λ − λ_s)/h and P = Σ aᵢuⁱ,
 * the weight of aᵢ is Wᵢ = −γ·hh·i!·φ_{i+1}(hh) (γ = α_t, hh = −h data; γ = σ_t, hh = h noise).
 */
export const coefficients =
  (ns: NoiseSchedule, rule: Rule) =>
  (start: Point, target: Point, nodes: ReadonlyArray<Point>): Coefficients => {
    const data = rule.prediction === 'data'
    const eta = rule.eta ?? 0
    const h = target.lambda - start.lambda
    const hh = data ? -(1 + eta) * h : h
    // noise form with η (SDE-DPM-Solver, MRS noise SDE): every output weight ×(1 + η), x_s keeps α_t/α_s
    const gamma = data ? target.alpha : (1 + eta) * target.sigma
    const onStart = data ? (target.sigma / start.sigma) * (eta === 0 ? 1 : Math.exp(-eta * h)) : target.alpha / start.alpha
    const n = nodes.length
    // into σ_t = 0 (λ_t = +∞) only the first-order step is defined in λ (an interpolant would be extrapolated to λ = ∞):
    // data x_t = α_t·m (e^{−h} = 0); noise x_t = (α_t/α_s)·x_s − (1 + η)·α_t·e^{−λ_s}·m (σ_t·e^h = α_t·e^{−λ_s});
    // a noise-form polynomial in ρ = σ̄ integrates to ρ = 0 at any order (LMS: ρ_t = e^{−λ_t} = 0 below)
    if (target.lambda === Infinity && !intoZeroAnyOrder(rule)) {
      if (n !== 1) throw new Error(`a step into σ = 0 (λ = ∞) must be first order, got ${n} nodes; use order 1 there (SolverSchedule.effectiveSteps does with grid.final sigma0)`)
      return { onStart: data ? 0 : onStart, onNodes: [data ? target.alpha : -(1 + eta) * target.alpha * Math.exp(-start.lambda)] }
    }
    switch (rule.basis) {
      case 'ab': {
        const b = rule.abBeta ?? 1
        const table = rule.implicit ? adamsMoulton : b === 1 ? adamsBashforth : generalizedAB(b)
        const w = table[n - 1]
        if (w === undefined) throw new Error(`no ${rule.implicit ? 'Adams–Moulton' : 'Adams–Bashforth'} weights of order ${n}`)
        const base = -gamma * Math.expm1(hh)
        return { onStart, onNodes: w.map((wj) => base * wj) }
      }
      case 'lambda': {
        const us = nodes.map((p) => (p.lambda - start.lambda) / h)
        const W = Array.from({ length: n }, (_, i) => -gamma * hh * factorial(i) * phi(i + 1, hh))
        if (n > 1) W[1] = W[1]! * relaxationFactor(rule.relaxation, hh, h)
        if (n > 2 && rule.halveSecondDerivative) W[2] = W[2]! * 0.5
        // c = W·V⁻¹, i.e. Vᵀ c = W with V_{ji} = u_jⁱ
        const VT = Array.from({ length: n }, (_, i) => us.map((u) => u ** i))
        return { onStart, onNodes: solve(VT, W) }
      }
      case 'rho': {
        if (!data) {
          // x_t = (α_t/α_s)·x_s + α_t·∫_{ρ_s}^{ρ_t} P(ρ) dρ, exact for the polynomial P
          const rs = nodes.map((p) => Math.exp(-p.lambda))
          const a = Math.exp(-start.lambda)
          const b = Math.exp(-target.lambda)
          return { onStart, onNodes: rs.map((_, j) => target.alpha * integrate(lagrangeBasis(rs, j), a, b, 2)) }
        }
        return {
          onStart,
          onNodes: quadrature(
            start,
            target,
            nodes.map((p) => Math.exp(-p.lambda)),
            (l) => Math.exp(-l),
            data,
          ),
        }
      }
      case 't':
        return {
          onStart,
          onNodes: quadrature(
            start,
            target,
            nodes.map((p) => p.t),
            ns.tOfLambda,
            data,
          ),
        }
    }
  }

/** whether a rule's step into σ = 0 (λ = ∞) is defined at every order: the noise form in basis ρ (k-diffusion and diffusers LMS) */
export const intoZeroAnyOrder = (rule: Pick<Rule, 'prediction' | 'basis'>): boolean => rule.prediction === 'noise' && rule.basis === 'rho'

/** cⱼ = ∫_{λ_s}^{λ_t} w(λ)·ℓⱼ(u(λ)) dλ, w = α_t·e^{λ−λ_t} (data) or −σ_t·e^{λ_t−λ} (noise) */
const quadrature = (start: Point, target: Point, us: ReadonlyArray<number>, u: (lambda: number) => number, data: boolean): ReadonlyArray<number> => {
  const lt = target.lambda
  const w = data ? (l: number) => target.alpha * Math.exp(l - lt) : (l: number) => -target.sigma * Math.exp(lt - l)
  return us.map((_, j) => {
    const basis = lagrangeBasis(us, j)
    return integrate((l) => w(l) * basis(u(l)), start.lambda, lt, 24)
  })
}

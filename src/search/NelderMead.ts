/**
 * Nelder–Mead as a pure ask/tell state machine, so several local searches can run in lockstep and
 * have their evaluations batched over worker threads: `ask(s)` lists the points to evaluate next
 * (1 point, or n for the initial simplex and a shrink), `tell(s, values)` returns the next state.
 * Adaptive coefficients for dimension n (Gao & Han 2012): reflection 1, expansion 1 + 2/n,
 * contraction ¾ − 1/(2n), shrink 1 − 1/n.
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

type Point = ReadonlyArray<number>

/** where the method is: which points it asked for and why */
type Phase =
  | { readonly kind: 'init' }
  | { readonly kind: 'reflect' }
  | { readonly kind: 'expand'; readonly xr: Point; readonly fr: number }
  | { readonly kind: 'contract'; readonly inside: boolean; readonly fr: number; readonly xr: Point }
  | { readonly kind: 'shrink' }

/** a Nelder–Mead state: the simplex (sorted best first once complete), its values, the pending points */
export interface State {
  readonly simplex: ReadonlyArray<Point>
  readonly values: ReadonlyArray<number>
  readonly phase: Phase
  readonly pending: ReadonlyArray<Point>
  /** evaluations told so far */
  readonly evals: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const axpy = (a: number, x: Point, y: Point): Point => y.map((v, j) => v + a * x[j]!)
const sub = (x: Point, y: Point): Point => x.map((v, j) => v - y[j]!)

/** simplex and values sorted by value (ties keep their order) */
const sorted = (simplex: ReadonlyArray<Point>, values: ReadonlyArray<number>) => {
  const idx = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b)
  return { simplex: idx.map((i) => simplex[i]!), values: idx.map((i) => values[i]!) }
}

/** the centroid of all vertices but the worst */
const centroid = (simplex: ReadonlyArray<Point>): Point => {
  const n = simplex.length - 1
  return simplex[0]!.map((_, j) => simplex.slice(0, n).reduce((a, p) => a + p[j]!, 0) / n)
}

const coeffs = (n: number) => ({ expand: 1 + 2 / n, contract: 0.75 - 1 / (2 * n), shrink: 1 - 1 / n })

/** ask for the reflection of the worst vertex through the centroid of the others */
const reflect = (simplex: ReadonlyArray<Point>, values: ReadonlyArray<number>, evals: number): State => {
  const s = sorted(simplex, values)
  const c = centroid(s.simplex)
  const w = s.simplex[s.simplex.length - 1]!
  return { ...s, phase: { kind: 'reflect' }, pending: [axpy(1, sub(c, w), c)], evals }
}

/** replace the worst vertex, then reflect */
const accept = (s: State, x: Point, f: number, evals: number): State => reflect([...s.simplex.slice(0, -1), x], [...s.values.slice(0, -1), f], evals)

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** start from x0 (value f0) with the axis simplex x0 + step_j·e_j; asks for its n vertices */
export const start = (x0: Point, f0: number, step: number | Point): State => ({
  simplex: [x0],
  values: [f0],
  phase: { kind: 'init' },
  pending: x0.map((_, j) => x0.map((v, k) => (k === j ? v + (typeof step === 'number' ? step : step[j]!) : v))),
  evals: 0,
})

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the points to evaluate next */
export const ask = (s: State): ReadonlyArray<Point> => s.pending

/** the best vertex and its value so far */
export const best = (s: State): { readonly x: Point; readonly f: number } => {
  let b = 0
  s.values.forEach((v, i) => {
    if (v < s.values[b]!) b = i
  })
  return { x: s.simplex[b]!, f: s.values[b]! }
}

/** the largest distance (∞-norm) from the best vertex to another: the simplex size */
export const size = (s: State): number => {
  const b = best(s).x
  return Math.max(0, ...s.simplex.map((p) => Math.max(...p.map((v, j) => Math.abs(v - b[j]!)))))
}

/** feed the values of `ask(s)` (same order); returns the next state */
export const tell = (s: State, fs: ReadonlyArray<number>): State => {
  const evals = s.evals + fs.length
  const n = s.simplex[0]!.length
  const k = coeffs(Math.max(2, n))
  const ph = s.phase
  switch (ph.kind) {
    case 'init':
    case 'shrink':
      return reflect(ph.kind === 'init' ? [...s.simplex, ...s.pending] : [s.simplex[0]!, ...s.pending], ph.kind === 'init' ? [...s.values, ...fs] : [s.values[0]!, ...fs], evals)
    case 'reflect': {
      const xr = s.pending[0]!
      const fr = fs[0]!
      const c = centroid(s.simplex)
      const fw = s.values[s.values.length - 1]!
      if (fr < s.values[0]!) return { ...s, phase: { kind: 'expand', xr, fr }, pending: [axpy(k.expand, sub(xr, c), c)], evals }
      if (fr < s.values[s.values.length - 2]!) return accept(s, xr, fr, evals)
      const inside = !(fr < fw)
      const w = s.simplex[s.simplex.length - 1]!
      const xc = inside ? axpy(k.contract, sub(w, c), c) : axpy(k.contract, sub(xr, c), c)
      return { ...s, phase: { kind: 'contract', inside, fr, xr }, pending: [xc], evals }
    }
    case 'expand': {
      const fe = fs[0]!
      return fe < ph.fr ? accept(s, s.pending[0]!, fe, evals) : accept(s, ph.xr, ph.fr, evals)
    }
    case 'contract': {
      const fc = fs[0]!
      const fw = s.values[s.values.length - 1]!
      if (ph.inside ? fc < fw : fc <= ph.fr) return accept(s, s.pending[0]!, fc, evals)
      const b = s.simplex[0]!
      return { ...s, phase: { kind: 'shrink' }, pending: s.simplex.slice(1).map((p) => axpy(k.shrink, sub(p, b), b)), evals }
    }
  }
}

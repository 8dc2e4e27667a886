/**
 * The exponential integrator with a coefficient rule: the base of every step. From the start point s
 * (multistep: the current point; singlestep: an earlier one) to the target t,
 *   x_t = A·x_s + Σⱼ cⱼ·m_j,   (A, c) = rule(s, t, node points),
 * m the noise or data prediction at the nodes (history indices −1 = newest). Its document fields are
 * prediction, order, start, nodes, basis, relaxation and halveSecondDerivative (docs/math.md#exponential-integrator).
 */
import * as t from 'io-ts'
import * as U from '../core/Codec.ts'
import * as I from '../ir/Instr.ts'
import type { Prediction } from '../core/Parameterization.ts'
import * as R from '../core/Rule.ts'
import type { StepDecision } from './Registry.ts'
import * as St from './Step.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the highest order a step (or corrector) may use */
export const MAX_ORDER = 6
/** the highest Adams–Bashforth order (basis 'ab' predictor) */
export const MAX_AB = 5

const RELAXATIONS = ['none', 'dpmsolver-2', 'unipc-bh1', '0.5exp', '-0.5exp'] as const
const RELAXATION_EXPECTED = `one of ${RELAXATIONS.join(', ')} or {"linear": number}`
const isRelaxationName = (u: unknown): u is (typeof RELAXATIONS)[number] => RELAXATIONS.some((r) => r === u)

// -------------------------------------------------------------------------------------------------
// codec fragment
// -------------------------------------------------------------------------------------------------

/** 'lambda' | 't' | 'rho' | 'ab' */
export const BasisC: t.Type<R.Basis, R.Basis, unknown> = U.oneOf<R.Basis>(['lambda', 't', 'rho', 'ab'])
/** negative history indices */
export const IndicesC = t.readonlyArray(U.negativeInt, 'a list of negative integers (history indices, −1 = newest)')

/** 'none' | 'dpmsolver-2' | 'unipc-bh1' | '0.5exp' | '-0.5exp' | { linear: number } */
export const relaxationCodec = (closed: U.Closed): t.Type<R.Relaxation, unknown, unknown> => {
  const Linear = closed('a linear relaxation', { linear: U.finiteNumber }, {})
  return new t.Type<R.Relaxation, unknown, unknown>(
    RELAXATION_EXPECTED,
    (u): u is R.Relaxation => isRelaxationName(u) || Linear.is(u),
    (u, c) => (isRelaxationName(u) ? t.success(u) : U.isRecord(u) ? Linear.validate(u, c) : t.failure(u, c, `got ${U.show(u)}; expected ${RELAXATION_EXPECTED}`)),
    (r) => (typeof r === 'object' ? Linear.encode(r) : r),
  )
}

/** the required step fields */
export const required = { prediction: U.oneOf<Prediction>(['noise', 'data']), order: U.positiveInt }

/** the optional step fields of the base step */
export const optional = (closed: U.Closed) => ({
  start: U.negativeInt,
  nodes: IndicesC,
  basis: BasisC,
  relaxation: relaxationCodec(closed),
  halveSecondDerivative: U.bool,
})

// -------------------------------------------------------------------------------------------------
// destructors: nodes
// -------------------------------------------------------------------------------------------------

/** start index, default −1 */
export const startOf = (d: StepDecision): number => d.start ?? -1

/** default node order (USF): start, then points newer than start up to −1, then older ones; the first `order` of them (linear in order) */
export const defaultNodes = (start: number, order: number, available: number): ReadonlyArray<number> => {
  const out: number[] = []
  for (let k = start; k <= -1 && out.length < order; k++) out.push(k)
  for (let k = start - 1; k >= -available && out.length < order; k--) out.push(k)
  return out
}

/** predictor nodes of a step (explicit or default), given `available` history points */
export const nodesOf = (d: StepDecision, available: number): ReadonlyArray<number> => d.nodes ?? defaultNodes(startOf(d), d.order, available)

/** the rule of a step's predictor: its prediction, basis (λ default), relaxation and the reference halving */
export const ruleOf = (d: StepDecision): R.Rule => ({
  prediction: d.prediction,
  basis: d.basis ?? 'lambda',
  relaxation: d.relaxation ?? 'none',
  halveSecondDerivative: d.halveSecondDerivative === true,
  implicit: false,
  eta: 0,
  abBeta: 1,
})

// -------------------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------------------

type Issues = ReadonlyArray<U.Issue>

/** history indices: negative integers within the `avail` newest points, no duplicates, `order` of them */
export const checkIndices = (path: string, nodes: ReadonlyArray<number>, avail: number, order: number, what: string, orderKey: string, i: number): Issues => [
  ...U.when(nodes.length !== order, path, () => `${U.plural(nodes.length, 'node')} given but ${what} is ${order}; give ${order} node${order === 1 ? '' : 's'} or set ${orderKey} to ${nodes.length}`),
  ...nodes.flatMap((k, j) => {
    if (!(Number.isInteger(k) && k <= -1)) return [U.issue(`${path}[${j}]`, `got ${U.show(k)}; expected a negative integer (a history index, −1 = newest)`)]
    if (k < -avail) return [U.issue(`${path}[${j}]`, `history index ${k} is out of range: step ${i} has ${U.plural(avail, 'point')} of history; use ${U.range(avail)}`)]
    const first = nodes.indexOf(k)
    return U.when(first < j, `${path}[${j}]`, () => `${k} repeats nodes[${first}]; every node must be a different history point, remove or change it`)
  }),
]

/** relaxation only where the first derivative is estimated in λ */
export const checkRelaxation = (path: string, r: R.Relaxation | undefined, basis: R.Basis, basisKey: string): Issues =>
  U.when(basis !== 'lambda' && r !== undefined && r !== 'none', path, () => `relaxation applies only to basis lambda (${basisKey} is ${basis}); remove it or set ${basisKey} to lambda`)

/** the base step at index i: history availability, order limits, nodes, relaxation and halving */
export const checks = (d: StepDecision, i: number): Issues => {
  const p = `steps[${i}]`
  const avail = i + 1
  const basis = d.basis ?? 'lambda'
  const start = startOf(d)
  const orderOk = U.isPosInt(d.order)
  const order: Issues = !orderOk
    ? [U.issue(`${p}.order`, `got ${U.show(d.order)}; expected a positive integer`)]
    : [
        ...U.when(d.order > MAX_ORDER, `${p}.order`, () => `order ${d.order} is above the maximum ${MAX_ORDER}; use at most ${MAX_ORDER}`),
        ...U.when(
          d.order > avail,
          `${p}.order`,
          () => `order ${d.order} needs ${U.plural(d.order - 1, 'earlier evaluation')} and step ${i} has ${i === 0 ? 'none' : `only ${i}`}; use ${i === 0 ? '1' : `at most ${avail}`}`,
        ),
        ...U.when(basis === 'ab' && d.order > MAX_AB, `${p}.order`, () => `basis ab has Adams–Bashforth weights up to order ${MAX_AB}; use at most ${MAX_AB} or another basis`),
      ]
  const startIssues: Issues =
    d.start === undefined
      ? []
      : !(Number.isInteger(start) && start <= -1)
        ? [U.issue(`${p}.start`, `got ${U.show(d.start)}; expected a negative integer (a history index, −1 = newest)`)]
        : U.when(start < -avail, `${p}.start`, () => `history index ${start} is out of range: step ${i} has ${U.plural(avail, 'point')} of history; use ${U.range(avail)}`)
  const nodes = d.nodes === undefined ? [] : checkIndices(`${p}.nodes`, d.nodes, avail, d.order, 'order', 'order', i)
  const halve: Issues =
    d.halveSecondDerivative === true
      ? [
          ...U.when(orderOk && d.order < 3, `${p}.halveSecondDerivative`, () => `halving the second derivative needs order ≥ 3 (order is ${d.order}); remove it or raise the order`),
          ...U.when(basis !== 'lambda', `${p}.halveSecondDerivative`, () => `halving the second derivative needs basis lambda (basis is ${basis}); remove it`),
        ]
      : []
  return [...order, ...startIssues, ...nodes, ...checkRelaxation(`${p}.relaxation`, d.relaxation, basis, 'basis'), ...halve]
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** m_g: the step's prediction at node g, at the points `at` */
export const prediction: St.Value = (c, _u, g, at) => c.b.pred(c.decision.prediction, g, at(g))

/** (A, c) = rule(s, t, nodes): A·x_s and Σ cⱼ·valueⱼ */
export const integrate: St.Integrate = (c, u, value) => (at, target) => {
  const co = R.coefficients(c.b.ns, u.rule)(at(c.startG), target, u.nodes.map(at))
  return {
    A: co.onStart,
    fixed: [[co.onStart, { kind: 'x', id: c.b.entry(c.startG) }]],
    nodes: I.plus(...u.nodes.map((g, j) => I.scale(co.onNodes[j]!, value(g, at)))),
    B: co.onNodes.reduce((a, b) => a + b, 0),
  }
}

/** the label of a step's base: `data, order 2, basis lambda, relaxation …` */
export const label = (d: StepDecision): string => {
  const rel = d.relaxation === undefined ? '' : `, relaxation ${typeof d.relaxation === 'string' ? d.relaxation : `linear ${d.relaxation.linear}`}`
  const start = d.start === undefined || d.start === -1 ? '' : `, start ${d.start}`
  const nodes = d.nodes === undefined ? '' : `, nodes [${d.nodes.join(', ')}]`
  return `${d.prediction}, order ${d.order}, basis ${d.basis ?? 'lambda'}${start}${nodes}${rel}${d.halveSecondDerivative === true ? ', halved 2nd derivative (reference)' : ''}`
}

/** the exponential-integrator step of a decision: one predictor update on its nodes with its rule */
export const expInt = (d: StepDecision): St.Step => ({
  needs: {
    order: d.order,
    history: Math.max(-startOf(d), ...(d.nodes ?? []).map((k) => -k), d.order),
    evals: 0,
    moves: false,
    leavesFresh: false,
    noise: false,
    capabilities: [],
  },
  labels: [label(d)],
  before: [],
  after: [],
  updates: [
    (c) => ({
      role: 'predictor',
      nodes: nodesOf(c.decision, c.index + 1).map((k) => c.index + 1 + k),
      rule: ruleOf(c.decision),
      evaluates: false,
      commits: false,
    }),
  ],
  value: prediction,
  integrate,
  emit: St.plainEmit,
})

/**
 * A step: its declared needs and how it emits x_{i+1} into the compile-time builder. A step is a
 * record of parts (phases before and after the start point's evaluation, the updates it makes, the
 * value it interpolates at a node, how an update's terms are integrated and how they are written);
 * a step behaviour is a combinator `Step → Step` that replaces or wraps one part, so a composition
 * under `pipe` reads as the algorithm and its order states the semantics:
 *
 *   pipe(expInt(d), meanReverting, sde(noise), heavyBall(m), corrector(c), churn(ch))
 *
 * Every part is compiled once per step by `emit`; values are only touched as linear forms over refs.
 */
import type { Endomorphism } from 'fp-ts/lib/Endomorphism.js'
import type * as B from '../ir/Builder.ts'
import * as I from '../ir/Instr.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import * as P from '../core/Parameterization.ts'
import type * as R from '../core/Rule.ts'
import type { StepDecision } from './Registry.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** what a step declares it needs: the laws check each against what the compiled program does */
export interface Needs {
  /** the declared local order: the nodes of its last update */
  readonly order: number
  /** how many grid points back it reads (1 = only its start point) */
  readonly history: number
  /** model evaluations of its own besides the start point's (Langevin iterations, a corrector's evaluation) */
  readonly evals: number
  /** it moves x at its start before evaluating (churn, Langevin): the start point is evaluated afresh */
  readonly moves: boolean
  /** its last update commits into the new point's entry (pseudo corrector): the next step needs no evaluation */
  readonly leavesFresh: boolean
  /** it may draw noise */
  readonly noise: boolean
  /** the Env capabilities it may read */
  readonly capabilities: ReadonlyArray<I.Capability>
}

/** what a step sees while compiled: the builder, its index, its (effective) decision, its start and target grid points */
export interface Ctx {
  readonly b: B.Builder
  readonly index: number
  readonly decision: StepDecision
  /** the grid point the step starts from (i for multistep, earlier for singlestep restarts) */
  readonly startG: number
  /** i + 1 */
  readonly targetG: number
}

/** one update of the step: x_{i+1} from its start and nodes by a coefficient rule */
export interface Update {
  readonly role: 'predictor' | 'corrector'
  /** grid points of the nodes, in rule order */
  readonly nodes: ReadonlyArray<number>
  readonly rule: R.Rule
  /** a corrector evaluates at the target first */
  readonly evaluates: boolean
  /** a pseudo corrector commits its x into the target's entry */
  readonly commits: boolean
}

/** an update's terms at points `at` toward `target`: x = A·x_s + extra + Σcⱼ·valueⱼ, B = Σcⱼ (the weight of a constant output) */
export interface Parts {
  readonly A: number
  /** A·x_s then extra terms (μ shift, noise) */
  readonly fixed: I.Form
  /** Σ cⱼ·valueⱼ */
  readonly nodes: I.Form
  readonly B: number
}

/** a compile-time action of a step (churn, Langevin, GHVB's momentum value) */
export type Phase = (c: Ctx) => void
/** the value an update interpolates at node g (m_g; GHVB: v_g) */
export type Value = (c: Ctx, u: Update, g: number, at: B.At) => I.Form
/** the terms of an update given its node values */
export type Integrate = (c: Ctx, u: Update, value: (g: number, at: B.At) => I.Form) => (at: B.At, target: Point) => Parts
/** how an update is written into the builder (`commit`: the entry a pseudo corrector commits into) */
export type Emit = (c: Ctx, u: Update, parts: (at: B.At, target: Point) => Parts, commit: number | undefined) => void

/** a step: declared needs, explanation labels and its parts */
export interface Step {
  readonly needs: Needs
  readonly labels: ReadonlyArray<string>
  readonly before: ReadonlyArray<Phase>
  readonly after: ReadonlyArray<Phase>
  readonly updates: ReadonlyArray<(c: Ctx) => Update>
  readonly value: Value
  readonly integrate: Integrate
  readonly emit: Emit
}

/** a step behaviour: Step → Step (composes with pipe / flow; the identity is the neutral element) */
export type Combinator = Endomorphism<Step>

// -------------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------------

/** the parts of every update, each written plainly: target ← A·x_s + extra + Σcⱼ·valueⱼ */
export const plainEmit: Emit = (c, u, parts, commit) =>
  c.b.emit(
    c.index,
    u.role,
    (at) => {
      const p = parts(at, at(c.targetG))
      return I.plus(p.fixed, p.nodes)
    },
    commit === undefined ? {} : { commit },
  )

/** add a label and merge needs */
export const declare =
  (label: string, needs: Partial<Needs>): Combinator =>
  (s) => ({
    ...s,
    labels: label === '' ? s.labels : [...s.labels, label],
    needs: {
      ...s.needs,
      ...needs,
      evals: s.needs.evals + (needs.evals ?? 0),
      moves: s.needs.moves || needs.moves === true,
      noise: s.needs.noise || needs.noise === true,
      history: Math.max(s.needs.history, needs.history ?? 0),
      capabilities: [...new Set([...s.needs.capabilities, ...(needs.capabilities ?? [])])].sort(),
    },
  })

/** run `phase` before the start point's evaluation, after the phases already there */
export const before =
  (phase: Phase): Combinator =>
  (s) => ({ ...s, before: [...s.before, phase] })

/** run `phase` before the others before the start point's evaluation */
export const beforeFirst =
  (phase: Phase): Combinator =>
  (s) => ({ ...s, before: [phase, ...s.before] })

/** run `phase` after the start point's evaluation */
export const after =
  (phase: Phase): Combinator =>
  (s) => ({ ...s, after: [...s.after, phase] })

/** wrap the integration of every update */
export const mapIntegrate =
  (f: (base: Integrate) => Integrate): Combinator =>
  (s) => ({ ...s, integrate: f(s.integrate) })

/** wrap how updates are written */
export const mapEmit =
  (f: (base: Emit) => Emit): Combinator =>
  (s) => ({ ...s, emit: f(s.emit) })

/** wrap the node value */
export const mapValue =
  (f: (base: Value) => Value): Combinator =>
  (s) => ({ ...s, value: f(s.value) })

/** change every update (its rule, nodes) */
export const mapUpdates =
  (f: (u: Update, c: Ctx) => Update): Combinator =>
  (s) => ({ ...s, updates: s.updates.map((mk) => (c: Ctx) => f(mk(c), c)) })

/** append an update (a corrector) */
export const addUpdate =
  (mk: (c: Ctx) => Update): Combinator =>
  (s) => ({ ...s, updates: [...s.updates, mk] })

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/**
 * compile one step into the builder: its `before` phases, the start point's evaluation unless the last
 * step left it fresh (step 0 with `zeroX0`: the analytic output, no NFE), its `after` phases, then each update
 * (a corrector evaluates at the target first; a pseudo one commits there and leaves it fresh); returns its facts
 */
export const emit = (step: Step, c: Ctx, zeroX0: boolean): I.StepInfo => {
  const b = c.b
  for (const ph of step.before) ph(c)
  if (step.needs.moves) b.setFresh(false)
  if (!b.fresh()) {
    if (c.index === 0 && zeroX0) b.evaluate(0, 0, analyticOutput(b))
    else b.evaluate(c.index, c.index)
  }
  for (const ph of step.after) ph(c)
  let order = step.needs.order
  for (const mk of step.updates) {
    const u = mk(c)
    const id = u.evaluates ? b.evaluate(c.index, c.targetG) : undefined
    step.emit(
      c,
      u,
      step.integrate(c, u, (g, at) => step.value(c, u, g, at)),
      u.commits ? id : undefined,
    )
    b.setFresh(u.commits)
    order = u.nodes.length
  }
  return { index: c.index, from: b.point(c.index), to: b.point(c.targetG), decision: c.decision, order, labels: step.labels }
}

/** USF's zero-x0 first step: ε(x_T) := x_T, so the native output is (ε = x, x0 = (1 − σ)x/α)·x: this factor */
export const analyticOutput = (b: B.Builder): number => {
  const pt = b.point(0)
  const f = P.fromPredictions(b.param)(pt)
  return f.eps + (f.x0 * (1 - pt.sigma)) / pt.alpha
}

/** NFE of a sequence of steps from their declared needs: Σ own evaluations + one start evaluation unless fresh (step 0: unless analytic) */
export const nfeOf = (steps: ReadonlyArray<Needs>, analyticFirst: boolean, denoise: boolean): number => {
  if (steps.length === 0) return 0
  let count = 0
  let fresh = false
  steps.forEach((n, i) => {
    if (!(fresh && !n.moves) && !(i === 0 && analyticFirst)) count++
    count += n.evals
    fresh = n.leavesFresh
  })
  return count + (denoise ? 1 : 0)
}

/**
 * Laws of the schedule codec: decode ∘ encode = id on valid documents (which also compile), every
 * named solver decodes cleanly, every mutated document is rejected with an issue at exactly the
 * mutated path, and the messages of common mistakes read as written.
 */
import assert from 'node:assert/strict'
import test from 'node:test'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as _ from '../src/schedule/Codec.ts'
import * as Grid from '../src/core/Grid.ts'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Program from '../src/run/Program.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as Solvers from '../src/solvers/index.ts'
import { arbSchedule } from './arbitraries.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** a message suggests a fix: it says what is expected or what to do */
const FIX = /\b(expected|use|add|remove|give|set|swap|did you mean)\b/

const issuesOf = (u: unknown): ReadonlyArray<_.Issue> => pipeLeft(_.decode(u))

const pipeLeft = (r: E.Either<ReadonlyArray<_.Issue>, S.SolverSchedule>): ReadonlyArray<_.Issue> => (E.isLeft(r) ? r.left : [])

/** the one message at `path` of a document's decoding (fails if there is not exactly one) */
const messageAt = (u: unknown, path: string): string => {
  const at = issuesOf(u).filter((i) => i.path === path)
  assert.equal(at.length, 1, `expected one issue at ${path}, got:\n${_.format(issuesOf(u))}`)
  return at[0]!.message
}

const vp = NS.vpLinear()

// -------------------------------------------------------------------------------------------------
// (a) round trip and compilation
// -------------------------------------------------------------------------------------------------

test('decode(encode(s)) = s, check(s) = [] and s compiles, for arbitrary valid schedules', () => {
  fc.assert(
    fc.property(arbSchedule, (s) => {
      const d = _.decode(_.encode(s))
      assert.deepEqual(pipeLeft(d), [])
      assert.deepEqual(E.isRight(d) ? d.right : undefined, s)
      assert.deepEqual(_.check(s), [])
      assert.deepEqual(_.parseJson(JSON.stringify(_.encode(s))), E.right(s))
      const p = Program.compileOrThrow(vp)(s)
      assert.equal(p.steps.length, s.steps.length)
      for (const ins of p.instrs) if (ins.op === 'combine') for (const [c] of ins.terms) assert.ok(Number.isFinite(c), `non-finite coefficient in step ${ins.step}`)
    }),
    { seed: 20250101, numRuns: 400 }, // seed and runs: fixed, 400 schedules
  )
})

// -------------------------------------------------------------------------------------------------
// (b) named solvers
// -------------------------------------------------------------------------------------------------

test('every named solver at nfe 2..25 on every grid kind (and every enumerated parameter) decodes with no issues', () => {
  const kinds: ReadonlyArray<Grid.Spacing> = ['time_uniform', 'logSNR', 'time_quadratic', 'karras']
  let count = 0
  for (const n of Solvers.all) {
    const sets: ReadonlyArray<Readonly<Record<string, string>>> = [{}, ...Object.entries(n.params).flatMap(([k, p]) => p.values.filter((v) => !v.startsWith('<')).map((v) => ({ [k]: v })))]
    for (let nfe = 2; nfe <= 25; nfe++)
      for (const grid of kinds)
        for (const set of sets) {
          // a budget the solver cannot meet is refused (score-sde-pc: each step costs steps + 1 evaluations), never silently exceeded
          if (n.id === 'score-sde-pc' && nfe < Number(set['steps'] ?? 1) + 1) {
            assert.throws(() => n.build({ nfe, grid, set }), /is too small/)
            continue
          }
          const s = n.build({ nfe, grid, set })
          assert.deepEqual(_.check(s), [], `${n.id} nfe=${nfe} grid=${grid} ${JSON.stringify(set)}`)
          assert.deepEqual(_.decode(_.encode(s)), E.right(s), `${n.id} nfe=${nfe} grid=${grid} ${JSON.stringify(set)}`)
          count++
        }
  }
  assert.ok(count > 2784) // 29 solvers × 24 NFEs × 4 grids, plus parameter variants
})

// -------------------------------------------------------------------------------------------------
// (c) rejection of mutated documents
// -------------------------------------------------------------------------------------------------

/** a broken document and the path its issue must name */
interface Mutation {
  readonly what: string
  readonly doc: unknown
  readonly path: string
}

const withStep = (s: S.SolverSchedule, i: number, f: (d: S.StepDecision) => object): unknown => ({
  ...s,
  steps: s.steps.map((d, k) => (k === i ? f(d) : d)),
})
const replaceAt = <A, B>(xs: ReadonlyArray<A>, j: number, v: B): ReadonlyArray<A | B> => xs.map((x, k) => (k === j ? v : x))
const omit = <T extends object>(o: T, key: string): object => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key))

/** a key no level allows: a random `x_…` name or a near miss of a real key */
const arbKey = fc.oneof(
  fc.stringMatching(/^[a-z]{1,6}$/).map((k) => `x_${k}`),
  fc.constantFrom('orders', 'Order', 'spacings', 'mod', 'linar'),
)

/** the mutations applicable to s, each an arbitrary of a broken document */
const mutations = (s: S.SolverSchedule): ReadonlyArray<fc.Arbitrary<Mutation>> => {
  const n = s.steps.length
  const arbI = fc.integer({ min: 0, max: n - 1 })
  const outer = Grid.outerSteps(s.grid)
  const ms: Array<fc.Arbitrary<Mutation>> = []

  // unknown key at a random level
  const levels: ReadonlyArray<readonly [string, (extra: Record<string, unknown>) => unknown]> = [
    ['', (x) => ({ ...s, ...x })],
    ['grid', (x) => ({ ...s, grid: { ...s.grid, ...x } })],
    ...s.steps.flatMap((d, i): ReadonlyArray<readonly [string, (extra: Record<string, unknown>) => unknown]> => [
      [`steps[${i}]`, (x) => withStep(s, i, (dd) => ({ ...dd, ...x }))],
      ...(d.corrector === undefined ? [] : [[`steps[${i}].corrector`, (x: Record<string, unknown>) => withStep(s, i, (dd) => ({ ...dd, corrector: { ...dd.corrector, ...x } }))] as const]),
      ...(typeof d.relaxation === 'object'
        ? [[`steps[${i}].relaxation`, (x: Record<string, unknown>) => withStep(s, i, (dd) => ({ ...dd, relaxation: { ...(typeof dd.relaxation === 'object' ? dd.relaxation : {}), ...x } }))] as const]
        : []),
    ]),
    ...(s.options === undefined ? [] : [['options', (x: Record<string, unknown>) => ({ ...s, options: { ...s.options, ...x } })] as const]),
  ]
  ms.push(
    fc.tuple(fc.constantFrom(...levels), arbKey, fc.jsonValue()).map(([[level, put], key, v]) => ({
      what: 'unknown key',
      doc: put({ [key]: v }),
      path: level === '' ? key : `${level}.${key}`,
    })),
  )

  // wrong type or value at a field
  ms.push(
    fc.oneof(
      fc
        .tuple(arbI, fc.constantFrom<unknown>('2', 0, -1, 1.5, null, true, [1]))
        .map(([i, v]) => ({ what: 'wrong order', doc: withStep(s, i, (d) => ({ ...d, order: v })), path: `steps[${i}].order` })),
      fc
        .tuple(arbI, fc.constantFrom<unknown>('eps', 'x0', 1, null))
        .map(([i, v]) => ({ what: 'wrong prediction', doc: withStep(s, i, (d) => ({ ...d, prediction: v })), path: `steps[${i}].prediction` })),
      fc.tuple(arbI, fc.constantFrom<unknown>('lagrange', 'Lambda', 2)).map(([i, v]) => ({ what: 'wrong basis', doc: withStep(s, i, (d) => ({ ...d, basis: v })), path: `steps[${i}].basis` })),
      fc.tuple(arbI, fc.constantFrom<unknown>('half', { linear: 'x' }, 0.5)).map(([i, v]) => ({
        what: 'wrong relaxation',
        doc: withStep(s, i, (d) => ({ ...d, relaxation: v })),
        path: typeof v === 'object' ? `steps[${i}].relaxation.linear` : `steps[${i}].relaxation`,
      })),
      fc.tuple(arbI, fc.constantFrom<unknown>(1, 0, '-1', 0.5)).map(([i, v]) => ({ what: 'positive start', doc: withStep(s, i, (d) => ({ ...d, start: v })), path: `steps[${i}].start` })),
      fc.constantFrom<unknown>('linear', 'uniform', 3, null).map((v) => ({ what: 'wrong spacing', doc: { ...s, grid: { ...s.grid, spacing: v } }, path: 'grid.spacing' })),
      fc.constantFrom<unknown>('stepwise-schedule/v2', 1, null).map((v) => ({ what: 'wrong format', doc: { ...s, format: v }, path: 'format' })),
      fc.constantFrom<unknown>({}, 'steps', null).map((v) => ({ what: 'steps not a list', doc: { ...s, steps: v }, path: 'steps' })),
      fc.constantFrom<unknown>('karras', 10, null, []).map((v) => ({ what: 'grid not an object', doc: { ...s, grid: v }, path: 'grid' })),
      fc.constantFrom<unknown>('yes', 1).map((v) => ({ what: 'wrong denoiseToZero', doc: { ...s, options: { ...s.options, denoiseToZero: v } }, path: 'options.denoiseToZero' })),
      fc.constantFrom<unknown>('analytic', true).map((v) => ({ what: 'wrong firstStep', doc: { ...s, options: { ...s.options, firstStep: v } }, path: 'options.firstStep' })),
    ),
  )

  // missing required key
  ms.push(
    fc.oneof(
      fc.tuple(arbI, fc.constantFrom('prediction', 'order')).map(([i, k]) => ({ what: 'missing key', doc: withStep(s, i, (d) => omit(d, k)), path: `steps[${i}].${k}` })),
      fc.constantFrom('format', 'grid', 'steps').map((k) => ({ what: 'missing key', doc: omit(s, k), path: k })),
      fc.constant({ what: 'missing spacing', doc: { ...s, grid: omit(s.grid, 'spacing') }, path: 'grid.spacing' }),
    ),
  )

  // order too high for the available history (nodes dropped, so only the order is wrong)
  ms.push(
    fc.tuple(arbI, fc.nat(2)).map(([i, extra]) => ({
      what: 'order above history',
      doc: withStep(s, i, (d) => omit(omit({ ...d, order: i + 2 + extra }, 'nodes'), 'corrector')),
      path: `steps[${i}].order`,
    })),
  )

  // start, nodes, corrector nodes out of range; duplicate nodes; wrong number of nodes
  ms.push(fc.tuple(arbI, fc.nat(3)).map(([i, extra]) => ({ what: 'start out of range', doc: withStep(s, i, (d) => ({ ...d, start: -(i + 2) - extra })), path: `steps[${i}].start` })))
  ms.push(
    arbI.chain((i) => {
      const nodes = S.nodesOf(s.steps[i]!, i + 1)
      return fc.tuple(fc.integer({ min: 0, max: nodes.length - 1 }), fc.nat(3)).map(([j, extra]) => ({
        what: 'node out of range',
        doc: withStep(s, i, (d) => ({ ...d, nodes: replaceAt(nodes, j, -(i + 2) - extra) })),
        path: `steps[${i}].nodes[${j}]`,
      }))
    }),
  )
  const multi = s.steps.flatMap((d, i) => (d.order >= 2 ? [i] : []))
  if (multi.length > 0)
    ms.push(
      fc.constantFrom(...multi).chain((i) => {
        const nodes = S.nodesOf(s.steps[i]!, i + 1)
        return fc.integer({ min: 1, max: nodes.length - 1 }).chain((j) =>
          fc.integer({ min: 0, max: j - 1 }).map((k) => ({
            what: 'duplicate node',
            doc: withStep(s, i, (d) => ({ ...d, nodes: replaceAt(nodes, j, nodes[k]) })),
            path: `steps[${i}].nodes[${j}]`,
          })),
        )
      }),
    )
  ms.push(
    arbI.map((i) => {
      const d = s.steps[i]!
      const nodes = S.nodesOf(d, i + 1)
      // one node fewer, or one more (an index already out of the node set, in range if possible)
      const more = [...nodes, [-1, -2, -3, -4, -5, -6, -7].find((k) => !nodes.includes(k) && k >= -(i + 1)) ?? -1]
      const changed = d.order >= 2 ? nodes.slice(0, -1) : more
      return { what: 'nodes length ≠ order', doc: withStep(s, i, (dd) => ({ ...dd, nodes: changed })), path: `steps[${i}].nodes` }
    }),
  )
  const corrected = s.steps.flatMap((d, i) => (d.corrector === undefined ? [] : [i]))
  if (corrected.length > 0)
    ms.push(
      fc.constantFrom(...corrected).chain((i) => {
        const d = s.steps[i]!
        const c = d.corrector!
        const nodes = S.correctorNodes(d, c, i + 2)
        return fc.tuple(fc.integer({ min: 0, max: nodes.length - 1 }), fc.nat(3)).map(([j, extra]) => ({
          what: 'corrector node out of range',
          doc: withStep(s, i, (dd) => ({ ...dd, corrector: { ...c, nodes: replaceAt(nodes, j, -(i + 3) - extra) } })),
          path: `steps[${i}].corrector.nodes[${j}]`,
        }))
      }),
    )

  // basis-dependent options
  ms.push(
    fc.tuple(arbI, fc.constantFrom('rho', 't', 'ab'), fc.constantFrom<unknown>('dpmsolver-2', 'unipc-bh1', { linear: 0.3 })).map(([i, basis, relaxation]) => ({
      what: 'relaxation off-lambda',
      doc: withStep(s, i, (d) => ({ ...omit(omit(d, 'halveSecondDerivative'), 'corrector'), order: Math.min(d.order, 5), basis, relaxation })),
      path: `steps[${i}].relaxation`,
    })),
  )
  const low = s.steps.flatMap((d, i) => (d.order < 3 ? [i] : []))
  if (low.length > 0)
    ms.push(fc.constantFrom(...low).map((i) => ({ what: 'halve at order < 3', doc: withStep(s, i, (d) => ({ ...d, halveSecondDerivative: true })), path: `steps[${i}].halveSecondDerivative` })))

  // grid: step count, split length, T ≤ t0, rho off karras, non-decreasing explicit times
  ms.push(
    fc.boolean().map((add) => ({
      what: 'step count ≠ intervals',
      doc: { ...s, steps: add ? [...s.steps, s.steps[n - 1]] : s.steps.slice(0, -1) },
      path: 'steps',
    })),
  )
  ms.push(
    fc.boolean().map((longer) => {
      const split = Array.from({ length: longer || outer < 2 ? outer + 1 : outer - 1 }, () => 1)
      return { what: 'split length', doc: { ...s, grid: { ...s.grid, split } }, path: 'grid.split' }
    }),
  )
  if (s.grid.spacing !== 'explicit') {
    const g = s.grid
    ms.push(
      fc.tuple(fc.double({ min: 1e-3, max: 0.5, noNaN: true }), fc.double({ min: 1, max: 2, noNaN: true })).map(([T, f]) => ({
        what: 'T ≤ t0',
        doc: { ...s, grid: { ...g, T, t0: T * f } },
        path: 'grid.T',
      })),
    )
    if (g.spacing !== 'karras') ms.push(fc.constant({ what: 'rho off karras', doc: { ...s, grid: { ...g, rho: 7 } }, path: 'grid.rho' }))
  }
  ms.push(
    fc.tuple(fc.integer({ min: 1, max: outer }), fc.double({ min: 0, max: 0.5, noNaN: true })).map(([k, u]) => {
      const t = Array.from({ length: outer + 1 }, (_x, j) => 1 + ((1e-3 - 1) * j) / outer)
      const bad = replaceAt(t, k, t[k - 1]! * (1 + u))
      return {
        what: 'explicit times not decreasing',
        doc: { ...s, grid: { spacing: 'explicit', t: bad, ...(s.grid.split === undefined ? {} : { split: s.grid.split }) } },
        path: `grid.t[${k}]`,
      }
    }),
  )
  return ms
}

test('a mutated document is rejected with an issue at exactly the mutated path, and every message suggests a fix', () => {
  const seen = new Map<string, number>()
  fc.assert(
    fc.property(
      arbSchedule.chain((s) => fc.oneof(...mutations(s))),
      (m) => {
        seen.set(m.what, (seen.get(m.what) ?? 0) + 1)
        const issues = issuesOf(m.doc)
        assert.ok(issues.length > 0, `${m.what}: accepted`)
        assert.ok(
          issues.some((i) => i.path === m.path),
          `${m.what}: no issue at ${m.path}; got\n${_.format(issues)}`,
        )
        for (const i of issues) assert.match(i.message, FIX, `${m.what}: message without a fix: ${i.path}: ${i.message}`)
        assert.deepEqual(pipeLeft(_.parseJson(JSON.stringify(m.doc))), issues)
      },
    ),
    { seed: 7, numRuns: 1500 }, // seed and runs: fixed, 1500 mutated documents
  )
  assert.ok(seen.size >= 15, `only ${seen.size} kinds of mutation were exercised`)
})

// -------------------------------------------------------------------------------------------------
// (d) messages of common mistakes
// -------------------------------------------------------------------------------------------------

const doc = (steps: ReadonlyArray<object>, grid: object = { spacing: 'logSNR', steps: steps.length }): unknown => ({ format: S.FORMAT, grid, steps })
const ddim = { prediction: 'data', order: 1 }

test('messages: a string order, an unknown spacing, a misspelt key', () => {
  assert.equal(messageAt(doc([ddim, ddim, ddim, { prediction: 'data', order: '2' }]), 'steps[3].order'), 'got "2"; expected a positive integer')
  assert.equal(messageAt(doc([ddim], { spacing: 'linear', steps: 1 }), 'grid.spacing'), 'got "linear"; expected one of time_uniform, logSNR, time_quadratic, karras, explicit')
  assert.equal(
    messageAt(doc([ddim, { prediction: 'data', ordr: 2 }]), 'steps[1].ordr'),
    "unknown key 'ordr'; did you mean 'order'? (allowed keys here: prediction, order, start, nodes, basis, relaxation, halveSecondDerivative, corrector, ems, noise, churn, langevin, momentum, timeShift)",
  )
  assert.equal(messageAt(doc([{ prediction: 'eps', order: 1 }]), 'steps[0].prediction'), 'got "eps"; expected one of noise, data')
})

test('messages: step count, order above history, node out of range, duplicate node', () => {
  assert.equal(
    messageAt(
      doc(
        Array.from({ length: 9 }, () => ddim),
        { spacing: 'logSNR', steps: 10 },
      ),
      'steps',
    ),
    'the grid has 10 intervals but 9 steps are given; add or remove steps',
  )
  assert.equal(messageAt(doc([{ prediction: 'data', order: 2 }, ddim]), 'steps[0].order'), 'order 2 needs 1 earlier evaluation and step 0 has none; use 1')
  assert.equal(
    messageAt(doc([ddim, { prediction: 'data', order: 2, nodes: [-1, -3] }]), 'steps[1].nodes[1]'),
    'history index -3 is out of range: step 1 has 2 points of history; use a value in -2..-1',
  )
  assert.equal(
    messageAt(doc([ddim, ddim, { prediction: 'data', order: 2, nodes: [-2, -2] }]), 'steps[2].nodes[1]'),
    '-2 repeats nodes[0]; every node must be a different history point, remove or change it',
  )
})

test('messages: relaxation off-lambda, explicit times, corrector order, JSON syntax', () => {
  assert.equal(
    messageAt(doc([ddim, { prediction: 'noise', order: 2, basis: 'rho', relaxation: 'dpmsolver-2' }]), 'steps[1].relaxation'),
    'relaxation applies only to basis lambda (basis is rho); remove it or set basis to lambda',
  )
  assert.equal(
    messageAt(doc([ddim, ddim], { spacing: 'explicit', t: [1, 0.5, 0.5] }), 'grid.t[2]'),
    '0.5 is not below the previous time 0.5 (t[1]); use a time below 0.5: explicit times strictly decrease from T to t0',
  )
  assert.equal(
    messageAt(doc([{ ...ddim, corrector: { mode: 'pseudo', order: 3 } }]), 'steps[0].corrector.order'),
    'corrector order 3 needs 2 earlier evaluations besides the new point and step 0 has only 1; use at most 2',
  )
  const r = _.parseJson('{"format": "stepwise-schedule/v1",')
  assert.ok(E.isLeft(r) && r.left.length === 1 && r.left[0]!.path === '(root)' && FIX.test(r.left[0]!.message))
})

test('messages: basis ab limits, splitIn without split, a one-point explicit grid', () => {
  const six = Array.from({ length: 5 }, () => ddim)
  assert.deepEqual(
    issuesOf(doc([...six, { prediction: 'noise', order: 6, basis: 'ab' }])).map((i) => `${i.path}: ${i.message}`),
    ['steps[5].order: basis ab has Adams–Bashforth weights up to order 5; use at most 5 or another basis'],
  )
  assert.equal(
    messageAt(doc([...six.slice(0, 3), { prediction: 'noise', order: 4, basis: 'ab', corrector: { mode: 'reeval' } }]), 'steps[3].corrector.order'),
    'basis ab has Adams–Moulton weights up to order 4; corrector order is 5 (default: predictor order + 1), set corrector.order to at most 4 or use another basis',
  )
  assert.equal(messageAt(doc([ddim], { spacing: 'karras', steps: 1, splitIn: 't' }), 'grid.splitIn'), 'splitIn has no effect without split; remove it or add split')
  assert.equal(messageAt(doc([], { spacing: 'explicit', t: [1] }), 'grid.t'), '1 time given; an explicit grid needs at least 2 (add the start and end times)')
})

test('an unknown key does not hide the cross-field issues of the rest of the document', () => {
  const u = doc([
    { prediction: 'data', order: 2 },
    { prediction: 'data', order: 1, colour: 'red' },
  ])
  assert.deepEqual(
    issuesOf(u).map((i) => i.path),
    ['steps[1].colour', 'steps[0].order'],
  )
})

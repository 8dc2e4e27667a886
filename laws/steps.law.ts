/**
 * Laws of the step combinators (src/steps): every behaviour's declared needs hold in the compiled program (NFE,
 * history, noise, capabilities), `explain` prints what the Float64 run computes (every combine line, parsed back and
 * evaluated on the run's own values), each behaviour's neutral element is the base step, and the stepping API
 * (advance in pieces, early stop, gatherRows) is the same run as the one-shot fold, with no tensor leaks on tfjs.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as E from 'fp-ts/lib/Either.js'
import fc from 'fast-check'
import * as tf from '@tensorflow/tfjs'
import * as Gmm from '../src/core/Gmm.ts'
import * as Prog from '../src/run/Program.ts'
import * as F from '../src/run/Float64.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as Trace from '../src/run/Trace.ts'
import * as S from '../src/schedule/SolverSchedule.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as Reg from '../src/steps/Registry.ts'
import * as A from './arbitraries.ts'
import * as O from './oracle.ts'

const D = 2
const B = 3
const gmm = Gmm.random(3, D, 11)
const xT = Gmm.normals(B * D, 5)
const ns = O.schedules.vpLinear
const model = O.nativeModel(gmm, 'eps')
const plain = Solvers.all.filter((sv) => sv.needs === undefined)
const runF = (p: Prog.Program, x: Float64Array = xT): Float64Array => Prog.run(F.env(model, { D, seed: 9 }))(p)(x).x

// -------------------------------------------------------------------------------------------------
// declared needs
// -------------------------------------------------------------------------------------------------

/** the deepest history a step's combines read: i + 1 − (grid point of each entry read), corrector's new point excluded */
const readDepth = (p: Prog.Program, i: number): number => {
  const pointOf = new Map(p.instrs.flatMap((ins) => (ins.op === 'eval' ? [[ins.id, ins.point] as const] : [])))
  return Math.max(0, ...p.instrs.flatMap((ins) => (ins.op === 'combine' && ins.step === i ? ins.terms.flatMap(([, r]) => ('id' in r ? [i + 1 - pointOf.get(r.id)!] : [])) : [])))
}

test("declared needs: S.nfe (from the steps' needs) = Program.nfe = model calls; history, noise and capabilities cover what the program reads", () => {
  const check = (s: S.SolverSchedule) => {
    const p = Prog.compileOrThrow(ns, 'eps')(s)
    let calls = 0
    // one evaluation at per-sample times is one NFE split over calls on row subsets: count rows / B
    Prog.run(F.env((x, at, sub) => ((calls += sub === undefined ? 1 : sub.rows.length / sub.of), model(x, at)), { D, seed: 1 }))(p)(xT)
    assert.equal(S.nfe(s), p.nfe, `${s.name}: S.nfe vs Program.nfe`)
    assert.ok(Math.abs(calls - p.nfe) < 1e-9, `${s.name}: model calls vs Program.nfe`)
    const steps = S.effectiveSteps(s).map(Reg.fromDecision)
    steps.forEach((st, i) => assert.ok(readDepth(p, i) <= st.needs.history, `${s.name} step ${i}: reads ${readDepth(p, i)} points back, declares ${st.needs.history}`))
    const caps = new Set(steps.flatMap((st) => st.needs.capabilities))
    for (const c of p.needs) if (c !== 'mu') assert.ok(caps.has(c), `${s.name}: the program needs ${c}, no step declares it`)
    if (p.usesNoise)
      assert.ok(
        steps.some((st) => st.needs.noise),
        `${s.name}: draws noise, no step declares it`,
      )
  }
  for (const sv of plain)
    for (const nfe of [1, 2, 5, 9]) {
      const s = E.tryCatch(() => sv.build({ nfe }), String) // some solvers need at least 2 evaluations
      if (E.isRight(s)) check(s.right)
    }
  fc.assert(fc.property(A.arbSchedule, check), { seed: 77, numRuns: 300 })
})

// -------------------------------------------------------------------------------------------------
// explain = run
// -------------------------------------------------------------------------------------------------

/** `lhs = c·name + …` of a combine line: the printed coefficients by name */
const parseLine = (line: string): ReadonlyArray<readonly [number, string]> => {
  const rhs = line.slice(line.indexOf(' = ', line.lastIndexOf(': ')) + 3)
  const out: Array<readonly [number, string]> = []
  const re = /(^|\s[+−]\s|^−)([0-9.]+(?:e[+-]?\d+)?)·(\S+)/g
  for (const m of rhs.matchAll(re)) out.push([(m[1]!.includes('−') ? -1 : 1) * Number(m[2]), m[3]!])
  return out
}

test("explain = run: every combine line of every named solver, evaluated on the Float64 run's values, is what the run wrote (6 printed digits)", () => {
  for (const sv of plain)
    for (const nfe of [3, 6]) {
      const p = Prog.compileOrThrow(ns, 'eps')(sv.build({ nfe }))
      const lines = Trace.explain(p)
        .split('\n')
        .filter((l) => /^\s+(step \d+ (?!eval)|denoise)/.test(l))
      const combines = p.instrs.filter((ins): ins is Extract<Prog.Instr, { op: 'combine' }> => ins.op === 'combine')
      assert.equal(lines.length, combines.length, `${sv.id}: one explain line per combine`)
      // the run, recording the value of every name before each combine and what the combine wrote
      const e = F.env(model, { D, seed: 2 })
      const nameOf = new Map<number, string>()
      const seen = new Map<number, number>()
      let k = 0
      const execute: Prog.Execute<Float64Array> = (s, ins) => {
        if (ins.op === 'eval') {
          const j = seen.get(ins.point) ?? 0
          seen.set(ins.point, j + 1)
          nameOf.set(ins.id, `${ins.point}${'′'.repeat(j)}`)
        }
        const next = Prog.exec(e)(s, ins)
        if (ins.op !== 'combine') return next
        if (ins.adapt === undefined) {
          const values = (nm: string): Float64Array | undefined => {
            if (nm === 'x') return s.x
            const m = /^(x|xe|ε̂|v)\[(.+)\]$/.exec(nm)
            if (m !== null) {
              const id = [...nameOf].find(([, n]) => n === m[2])?.[0]
              const en = id === undefined ? undefined : s.entries.get(id)
              return m[1] === 'ε̂' ? en?.out : m[1] === 'v' ? en?.vel : m[1] === 'xe' ? en?.xe : en?.x
            }
            const z = /^z\[(\d+),(\d+)\]$/.exec(nm)
            if (z !== null) return e.normal!({ step: Number(z[1]), stream: Number(z[2]) }, s.x)
            return s.regs?.get(nm)
          }
          const got = ins.into?.kind === 'reg' ? next.regs!.get(ins.into.name)! : ins.into?.kind === 'vel' ? next.entries.get(ins.into.id)!.vel! : next.x
          const terms = parseLine(lines[k]!)
          const want = new Float64Array(got.length)
          let scale = 0
          for (const [c, nm] of terms) {
            const v = values(nm)
            assert.ok(v !== undefined, `${sv.id} nfe ${nfe}: '${nm}' in "${lines[k]}" names no value of the run`)
            v.forEach((x, j) => (want[j]! += c * x))
            scale += Math.abs(c) * Math.max(...v.map(Math.abs))
          }
          assert.ok(O.maxAbs(want, got) <= 1e-5 * Math.max(scale, 1e-300) + 1e-12, `${sv.id} nfe ${nfe}: "${lines[k]}" ≠ the run (${O.maxAbs(want, got)})`)
        }
        k++
        return next
      }
      const st = Prog.stepper(e, p, execute)
      st.runFrom(st.init(xT))
    }
})

// -------------------------------------------------------------------------------------------------
// neutral elements
// -------------------------------------------------------------------------------------------------

test('neutral elements: churn γ = 0, noise ddim/ancestral η = 0, momentum hb/nt/ghvb β = 1, time shift window 1 give the base step exactly', () => {
  const base = (nfe: number): S.SolverSchedule => Solvers.all.find((sv) => sv.id === 'dpmpp-2m')!.build({ nfe })
  const neutral: ReadonlyArray<readonly [string, (d: S.StepDecision) => S.StepDecision]> = [
    ['churn γ = 0', (d) => ({ ...d, churn: { gamma: 0 } })],
    ['momentum hb β = 1', (d) => ({ ...d, momentum: { kind: 'hb', beta: 1 } })],
    ['momentum nt β = 1', (d) => ({ ...d, momentum: { kind: 'nt', beta: 1 } })],
    ['momentum ghvb β = 1', (d) => ({ ...d, momentum: { kind: 'ghvb', beta: 1 } })],
    ['time shift window 1', (d) => ({ ...d, timeShift: { window: 1, cutoff: 0 } })],
  ]
  for (const nfe of [4, 7]) {
    const s = base(nfe)
    const want = runF(Prog.compileOrThrow(ns, 'eps')(s))
    for (const [name, f] of neutral) {
      const got = runF(Prog.compileOrThrow(ns, 'eps')({ ...s, steps: s.steps.map(f) }))
      assert.ok(O.relErr(got, want) <= 1e-13, `${name}: ${O.relErr(got, want)}`)
    }
    const ddim = Solvers.all.find((sv) => sv.id === 'ddim')!.build({ nfe })
    const wantD = runF(Prog.compileOrThrow(ns, 'eps')(ddim))
    for (const level of ['ddim', 'ancestral'] as const) {
      const got = runF(Prog.compileOrThrow(ns, 'eps')({ ...ddim, steps: ddim.steps.map((d) => ({ ...d, noise: { level, eta: 0 } })) }))
      assert.equal(O.relErr(got, wantD), 0, `noise ${level} η = 0`)
    }
  }
})

// -------------------------------------------------------------------------------------------------
// stepping API
// -------------------------------------------------------------------------------------------------

test('stepping: advance in pieces = the one-shot run; early stop after step k = the run of the first k + 1 steps; previews are finite', () => {
  for (const id of ['unipc-bh2-3', 'sde-dpmpp-2m', 'heun-churn', 'ghvb', 'score-sde-pc', 'dpmpp-3s']) {
    const p = Prog.compileOrThrow(ns, 'eps')(Solvers.all.find((sv) => sv.id === id)!.build({ nfe: 8 }))
    const e = F.env(model, { D, seed: 9 })
    const st = Prog.stepper(e, p)
    const whole = runF(p)
    let s = st.init(xT)
    for (let i = 0; i < st.steps; i += 2) s = st.advance(i, Math.min(i + 2, st.steps))(s)
    assert.equal(O.maxAbs(s.x, whole), 0, `${id}: advance in pieces`)
    let previews = 0
    const stopped = st.runFrom(st.init(xT), {
      onStep: (ev) => {
        // x̂0 from the latest evaluation still held (none when every entry was released before the next evaluation)
        const pv = ev.preview()
        assert.ok(pv === undefined || pv.every(Number.isFinite), `${id}: preview at step ${ev.step}`)
        previews++
        return ev.step === 1 ? 'stop' : undefined
      },
    })
    assert.equal(previews, 2)
    assert.equal(st.stepOf(stopped), 2)
    assert.equal(O.maxAbs(st.runFrom(stopped).x, whole), 0, `${id}: resuming after an early stop`)
  }
})

test('gatherRows: a permutation of the rows between steps permutes the rest of an ODE run (rows are independent)', () => {
  const perm = [2, 0, 1]
  for (const id of ['dpmpp-3m', 'unipc-bh2-2', 'ghvb', 'hb']) {
    const p = Prog.compileOrThrow(ns, 'eps')(Solvers.all.find((sv) => sv.id === id)!.build({ nfe: 7 }))
    const e = F.env(model, { D, seed: 9 })
    const st = Prog.stepper(e, p)
    const whole = runF(p)
    const mid = Prog.gatherRows(e)(st.advance(0, 3)(st.init(xT)), perm)
    const got = st.runFrom(mid).x
    perm.forEach((r, b) => assert.ok(O.maxAbs(got.subarray(b * D, b * D + D), whole.subarray(r * D, r * D + D)) <= 1e-12, `${id}: row ${b}`))
  }
})

test('tfjs stepping: gatherRows and a stepped run keep tf.memory().numTensors flat', async () => {
  await Tfjs.init('wasm')
  const p = Prog.compileOrThrow(ns, 'eps')(Solvers.all.find((sv) => sv.id === 'unipc-bh2-3')!.build({ nfe: 6 }))
  const tm = (x: tf.Tensor2D, at: { readonly t: number }): tf.Tensor2D => tf.tensor2d(Float32Array.from(model(Float64Array.from(x.dataSync()), at as never)), x.shape)
  const x0 = tf.tensor2d(Float32Array.from(xT), [B, D])
  const before = tf.memory().numTensors
  for (let rep = 0; rep < 3; rep++) {
    const st = Tfjs.stepper(p, tm, {}, [x0])
    let s = st.advance(0, 2)(st.init(x0))
    s = Prog.gatherRows(st.env)(s, [1, 1, 0])
    s = st.runFrom(s)
    assert.ok(s.x.dataSync().every(Number.isFinite))
    st.dispose(s, new Set())
    assert.equal(tf.memory().numTensors, before, `repetition ${rep}: tensors left`)
  }
  x0.dispose()
})

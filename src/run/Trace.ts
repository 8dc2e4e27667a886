/**
 * The Trace interpreter: values are symbolic linear forms over x_T and the model outputs, so running
 * a program shows every step as a linear combination with its coefficients (the `explain` command).
 */
import type { Point } from '../core/NoiseSchedule.ts'
import * as Prog from './Program.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a linear form Σ c·symbol; symbols are 'x_T' and 'out<k>' (the k-th model output) */
export type Form = ReadonlyMap<string, number>

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const fmt = (c: number): string => (Math.abs(c) >= 1e-3 && Math.abs(c) < 1e4 ? c.toPrecision(6) : c.toExponential(4))

/** `+ 0.5·a − 2·b` */
export const show = (terms: ReadonlyArray<readonly [number, string]>): string =>
  terms
    .filter(([c]) => c !== 0)
    .map(([c, s], i) => `${c < 0 ? (i === 0 ? '−' : ' − ') : i === 0 ? '' : ' + '}${fmt(Math.abs(c))}·${s}`)
    .join('') || '0'

/** the name of the native model output in explanations */
const OUTPUT: Readonly<Record<Prog.Program['param'], string>> = { eps: 'ε̂', x0: 'x̂0', v: 'v̂', flow: 'û' }

/**
 * a ref's name: x[g] (entry state; also the x the model saw while no pseudo corrector committed there), xe[g] (the x
 * the model saw at a committed point), ε̂[g] (native output), v[g] (GHVB), registers, z[step,stream], μ, 1, x
 */
const refName =
  (p: Prog.Program, pointOf: ReadonlyMap<number, string>, committed: ReadonlySet<number>, step: number) =>
  (r: Prog.Ref): string => {
    switch (r.kind) {
      case 'xe':
        return `${committed.has(r.id) ? 'xe' : 'x'}[${pointOf.get(r.id) ?? `#${r.id}`}]`
      case 'x':
      case 'vel':
      case 'out':
        return `${r.kind === 'out' ? OUTPUT[p.param] : r.kind === 'vel' ? 'v' : r.kind}[${pointOf.get(r.id) ?? `#${r.id}`}]`
      case 'reg':
        return r.name
      case 'noise':
        return `z[${step},${r.stream}]`
      case 'mu':
        return 'μ'
      case 'one':
        return '1'
      case 'cur':
        return 'x'
    }
  }

/** the terms a combine writes as text: its real coefficients (adaptive ones: the nominal coefficients they adapt) */
export const termsOf = (p: Prog.Program) => {
  // an entry's name: its grid point, primed once per earlier evaluation at that point (Langevin, re-evaluations)
  const seen = new Map<number, number>()
  const pointOf = new Map(
    p.instrs.flatMap((ins) => {
      if (ins.op !== 'eval') return []
      const k = seen.get(ins.point) ?? 0
      seen.set(ins.point, k + 1)
      return [[ins.id, `${ins.point}${'′'.repeat(k)}`] as const]
    }),
  )
  const committed = new Set(p.instrs.flatMap((ins) => (ins.op === 'combine' && ins.commit !== undefined ? [ins.commit] : [])))
  return (ins: Extract<Prog.Instr, { op: 'combine' }>): ReadonlyArray<readonly [number, string]> => {
    // terms with the same name (x and xe of an uncommitted entry) are one value: their coefficients summed
    const by = new Map<string, number>()
    for (const [c, r] of ins.adapt?.nominal ?? ins.terms) {
      const name = refName(p, pointOf, committed, ins.step)(r)
      by.set(name, (by.get(name) ?? 0) + c)
    }
    return [...by].map(([name, c]) => [c, name] as const)
  }
}

const SHORT: Readonly<Record<string, string>> = { predictor: 'pred', corrector: 'corr', churn: 'churn', momentum: 'mom.', denoise: '', langevin: 'langevin' }

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** the symbolic environment: lincomb adds forms; the model returns a fresh symbol */
export const env = (): Prog.Env<Form> & { readonly outputs: ReadonlyArray<{ readonly symbol: string; readonly at: Point }> } => {
  const outputs: { symbol: string; at: Point }[] = []
  return {
    outputs,
    lincomb: (terms) => {
      const out = new Map<string, number>()
      for (const [c, f] of terms) for (const [k, v] of f) out.set(k, (out.get(k) ?? 0) + c * v)
      return out
    },
    model: (_x, at) => {
      const symbol = `out${outputs.length}`
      outputs.push({ symbol, at })
      return new Map([[symbol, 1]])
    },
    normal: (key) => new Map([[`z[${key.step},${key.stream}]`, 1]]),
    mu: new Map([['μ', 1]]),
  }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the final x as a linear form over x_T and every model output */
export const expand = (p: Prog.Program): { readonly x: Form; readonly outputs: ReadonlyArray<{ readonly symbol: string; readonly at: Point }> } => {
  const e = env()
  const s = Prog.run(e)(p)(new Map([['x_T', 1]]))
  return { x: s.x, outputs: e.outputs }
}

/** evaluate a form given values for its symbols */
export const evaluate = (f: Form, values: (symbol: string) => number): number => {
  let s = 0
  for (const [k, c] of f) s += c * values(k)
  return s
}

/** a human-readable account of a program: one line per update, with the coefficients it really runs */
export const explain = (p: Prog.Program): string => {
  const lines: string[] = []
  const sched = p.schedule
  const terms = termsOf(p)
  lines.push(`${sched.name ?? 'schedule'}: ${sched.steps.length} steps, NFE ${p.nfe}, history depth ${p.historyDepth}${p.needs.length > 0 ? `, needs ${p.needs.join(', ')}` : ''}`)
  lines.push(`grid t: ${p.points.map((q) => fmt(q.t)).join(', ')}`)
  for (const ins of p.instrs) {
    if (ins.op === 'eval') {
      lines.push(`  eval   ${ins.analytic === undefined ? 'model' : 'analytic (zero x0)'} at point ${ins.point} (t = ${fmt(ins.at.t)}, λ = ${fmt(ins.at.lambda)})`)
    } else if (ins.op === 'combine') {
      const labels = p.steps[ins.step]?.labels ?? []
      const head = ins.role === 'denoise' ? 'denoise' : `step ${ins.step} ${SHORT[ins.role] ?? ins.role}`
      const shown = ins.role === 'predictor' ? labels.filter((l) => !l.startsWith('corrector')) : ins.role === 'corrector' ? labels.filter((l) => l.startsWith('corrector')) : []
      const what = [...shown, ...(ins.adapt === undefined ? [] : [ins.adapt.describe])]
      const lhs =
        ins.into?.kind === 'reg'
          ? ins.into.name
          : ins.into?.kind === 'vel'
            ? `v[${ins.step}]`
            : `x[${ins.role === 'denoise' ? p.points.length - 1 : ins.role === 'churn' || ins.role === 'langevin' ? ins.step : ins.step + 1}]`
      lines.push(`  ${head}${what.length === 0 ? '' : ` [${what.join(', ')}]`}: ${lhs} = ${show(terms(ins))}`)
    }
  }
  return lines.join('\n')
}

/**
 * The Trace interpreter: values are symbolic linear forms over x_T and the model outputs, so running
 * a program shows every step as a linear combination with its coefficients (the `explain` command).
 */
import type { Point } from '../NoiseSchedule.ts'
import * as Prog from '../Program.ts'

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

const sym = (t: Prog.SymTerm[1]): string => (t.value === 'named' ? t.name : `${t.value === 'x' ? 'x' : t.value === 'eps' ? 'ε' : 'x0'}[${t.point}]`)

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

/** a human-readable account of a program: one line per update, in the step's own variables */
export const explain = (p: Prog.Program): string => {
  const lines: string[] = []
  const sched = p.schedule
  lines.push(`${sched.name ?? 'schedule'}: ${sched.steps.length} steps, NFE ${p.nfe}, history depth ${p.historyDepth}`)
  lines.push(`grid t: ${p.points.map((q) => fmt(q.t)).join(', ')}`)
  for (const ins of p.instrs) {
    if (ins.op === 'eval') {
      lines.push(`  eval   ${ins.analytic === undefined ? 'model' : 'analytic (zero x0)'} at point ${ins.point} (t = ${fmt(ins.at.t)}, λ = ${fmt(ins.at.lambda)})`)
    } else if (ins.op === 'combine') {
      const info = p.steps[ins.step]
      const d = info?.decision
      const head =
        ins.role === 'denoise' ? 'denoise' : `step ${ins.step} ${{ predictor: 'pred', corrector: 'corr', churn: 'churn', momentum: 'mom.', denoise: '', langevin: 'langevin' }[ins.role]}`
      const rel = d?.relaxation === undefined ? '' : `, relaxation ${typeof d.relaxation === 'string' ? d.relaxation : `linear ${d.relaxation.linear}`}`
      const extras = [
        d?.halveSecondDerivative === true ? 'halved 2nd derivative (reference)' : '',
        d?.noise !== undefined ? `noise ${d.noise.level} η = ${d.noise.eta}` : '',
        d?.momentum !== undefined ? `${d.momentum.kind} β = ${d.momentum.beta}` : '',
        ins.adapt !== undefined ? ins.adapt.describe : '',
      ].filter((e) => e !== '')
      const what =
        d === undefined || ins.role === 'denoise' || ins.role === 'churn' || ins.role === 'momentum' || ins.role === 'langevin'
          ? ''
          : ins.role === 'corrector'
            ? ` [${d.prediction}, order ${info!.order}, basis ${d.corrector?.basis ?? d.basis ?? 'lambda'}, ${d.corrector?.mode}]`
            : ` [${d.prediction}, order ${d.order}, basis ${d.basis ?? 'lambda'}${rel}${extras.map((e) => `, ${e}`).join('')}]`
      const lhs =
        ins.into?.kind === 'reg' ? ins.into.name : ins.into?.kind === 'vel' ? `v[${ins.step}]` : `x[${ins.role === 'denoise' ? p.points.length - 1 : ins.role === 'churn' || ins.role === 'langevin' ? ins.step : ins.step + 1}]`
      lines.push(`  ${head}${what}: ${lhs} = ${show(ins.symbolic.map(([c, t]) => [c, sym(t)] as const))}`)
    }
  }
  return lines.join('\n')
}

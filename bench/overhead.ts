/**
 * Per-step solver overhead of the Tfjs interpreter on the wasm backend, model time excluded, as a
 * ratio to one tight Float32Array pass out[k] = Σᵢ cᵢ·vᵢ[k] over the same number of tensors of the
 * same size, measured side by side in the same process (interleaved repetitions, medians).
 *
 *   node --import tsx bench/overhead.ts [--reps 7] [--nfe 20] [--sizes 4096x64,16384x64,262144x64]
 *
 * The model returns tf.clone of a precomputed ε (shares its data: no compute); its cost (clone +
 * dispose) is timed separately and subtracted. Per step = (run − nfe·model) / steps; the JS reference
 * per step = Σ over the program's combines of one pass with that combine's distinct tensors / steps.
 */
import * as os from 'node:os'
import * as tf from '@tensorflow/tfjs'
import * as NS from '../src/core/NoiseSchedule.ts'
import * as Prog from '../src/run/Program.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as Tfjs from '../src/run/Tfjs.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const arg = (k: string, d: number): number => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? d : Number(process.argv[i + 1])
}
const REPS = arg('reps', 7)
const NFE = arg('nfe', 20)
/** B×D per tensor; 262144×64 float32 = 64 MiB per tensor */
const SIZES: ReadonlyArray<readonly [number, number]> = (() => {
  const i = process.argv.indexOf('--sizes')
  const spec = i < 0 ? '4096x64,16384x64,262144x64' : (process.argv[i + 1] ?? '')
  return spec.split(',').map((s) => {
    const [b, d] = s.split('x').map(Number)
    if (!Number.isInteger(b) || !Number.isInteger(d) || b! <= 0 || d! <= 0) throw new Error(`--sizes: expected BxD,BxD… (e.g. 262144x64), got "${s}"`)
    return [b!, d!] as const
  })
})()
const SOLVERS = ['dpmpp-2m', 'dpmpp-3m', 'unipc-bh2-3']
const MAX_TERMS = 9

/** a tensor's values as the Float32Array they are */
const values = (t: tf.Tensor): Float32Array => {
  const d = t.dataSync()
  if (!(d instanceof Float32Array)) throw new Error('expected float32 data')
  return d
}
const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const ms = (f: () => void): number => {
  const t0 = performance.now()
  f()
  return performance.now() - t0
}

/** the reference: one tight pass o[k] = Σᵢ cᵢ·vᵢ[k] (unrolled per term count, as one would hand-write it) */
const pass = (o: Float32Array, c: ReadonlyArray<number>, v: ReadonlyArray<Float32Array>): void => {
  const n = o.length
  const [a, b, d, e, f, g, h, p, q] = [v[0]!, v[1]!, v[2]!, v[3]!, v[4]!, v[5]!, v[6]!, v[7]!, v[8]!]
  const [ca, cb, cd, ce, cf, cg, ch, cp, cq] = [c[0]!, c[1]!, c[2]!, c[3]!, c[4]!, c[5]!, c[6]!, c[7]!, c[8]!]
  switch (v.length) {
    case 1:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]!
      return
    case 2:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]!
      return
    case 3:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]! + cd * d[k]!
      return
    case 4:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]! + cd * d[k]! + ce * e[k]!
      return
    case 5:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]! + cd * d[k]! + ce * e[k]! + cf * f[k]!
      return
    case 6:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]! + cd * d[k]! + ce * e[k]! + cf * f[k]! + cg * g[k]!
      return
    case 7:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]! + cd * d[k]! + ce * e[k]! + cf * f[k]! + cg * g[k]! + ch * h[k]!
      return
    case 8:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]! + cd * d[k]! + ce * e[k]! + cf * f[k]! + cg * g[k]! + ch * h[k]! + cp * p[k]!
      return
    case 9:
      for (let k = 0; k < n; k++) o[k] = ca * a[k]! + cb * b[k]! + cd * d[k]! + ce * e[k]! + cf * f[k]! + cg * g[k]! + ch * h[k]! + cp * p[k]! + cq * q[k]!
      return
    default:
      throw new Error(`pass: ${v.length} terms (max ${MAX_TERMS})`)
  }
}

/** the most frequent value */
const mode = (xs: ReadonlyArray<number>): number => {
  const n = new Map<number, number>()
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1)
  return [...n].reduce((a, b) => (b[1] > a[1] ? b : a))[0]
}

/** distinct tensors a combine reads (what the interpreter's lincomb merges to) */
const distinct = (ins: Prog.Instr, entries: ReadonlyMap<number, { x: number; xe: number }>): number => {
  if (ins.op !== 'combine') return 0
  return new Set(ins.terms.filter(([c]) => c !== 0).map(([, r]) => (!('id' in r) ? r.kind : r.kind === 'out' ? `o${r.id}` : `x${r.kind === 'xe' ? entries.get(r.id)?.xe : entries.get(r.id)?.x}`))).size
}

/** the term count of every combine: replays which x each entry holds (x and xe coincide until a commit) */
const combineSizes = (p: Prog.Program): ReadonlyArray<number> => {
  const entries = new Map<number, { x: number; xe: number }>()
  let x = 0
  let version = 0
  return p.instrs.flatMap((ins) => {
    if (ins.op === 'eval') entries.set(ins.id, { x, xe: x })
    if (ins.op !== 'combine') return []
    const m = distinct(ins, entries)
    x = ++version
    if (ins.commit !== undefined) entries.set(ins.commit, { ...entries.get(ins.commit)!, x })
    return [m]
  })
}

// -------------------------------------------------------------------------------------------------
// benchmarks
// -------------------------------------------------------------------------------------------------

interface Row {
  readonly solver: string
  readonly terms: string
  readonly size: string
  readonly variant: string
  readonly stepMs: number
  readonly refMs: number
}

const solverRows = (B: number, D: number): ReadonlyArray<Row> => {
  const ns = NS.vpLinear()
  const eps = tf.randomNormal<tf.Rank.R2>([B, D])
  const xT = tf.randomNormal<tf.Rank.R2>([B, D])
  const model: Tfjs.Model = () => tf.clone(eps)
  const arrays = Array.from({ length: MAX_TERMS }, (_, i) => values(tf.tidy(() => tf.mul(eps, i + 1))))
  const out = new Float32Array(B * D)
  const configs: ReadonlyArray<readonly [string, Tfjs.Options]> = [
    ['fused (SIMD) + check', { lincomb: 'fused' }],
    ['fused (SIMD), no check', { lincomb: 'fused', check: false }],
    ['addN + check', { lincomb: 'addN' }],
    ['chain + check', { lincomb: 'chain' }],
  ]
  const rows = SOLVERS.flatMap((id) => {
    const named = Solvers.byId(id)
    if (named === undefined) throw new Error(`unknown solver ${id}`)
    const p = Prog.compileOrThrow(ns, 'eps')(named.build({ nfe: NFE }))
    const steps = p.steps.length
    const sizes = combineSizes(p)
    const coeffs = Array.from({ length: MAX_TERMS }, (_, i) => 0.5 - 0.07 * i)
    const times = configs.map((): number[] => [])
    const refs: number[] = []
    const models: number[] = []
    for (let r = 0; r < REPS + 2; r++) {
      const keep = r > 1 // two repetitions warm up
      configs.forEach(([, o], i) => {
        const t = ms(() => Tfjs.run(p, model, o)(xT).x.dispose())
        if (keep) times[i]!.push(t)
      })
      const ref = ms(() => sizes.forEach((m) => pass(out, coeffs.slice(0, m), arrays.slice(0, m))))
      const mod = ms(() => {
        for (let k = 0; k < p.nfe; k++) model(xT, p.points[0]!).dispose()
      })
      if (keep) {
        refs.push(ref)
        models.push(mod)
      }
    }
    const modelMs = median(models)
    return configs.map(([variant], i) => ({
      solver: id,
      terms: `${(sizes.length / steps).toFixed(2)} × ${mode(sizes)}`,
      size: `${B}×${D}`,
      variant,
      stepMs: (median(times[i]!) - modelMs) / steps,
      refMs: median(refs) / steps,
    }))
  })
  tf.dispose([eps, xT])
  return rows
}

/** one lincomb of m distinct tensors per variant, against the JS pass over the same values */
const lincombRows = (B: number, D: number): ReadonlyArray<string> =>
  [3, 5, 8].map((m) => {
    const vs = Array.from({ length: m }, () => tf.randomNormal<tf.Rank.R2>([B, D]))
    const arrays = vs.map(values)
    const terms = vs.map((v, i) => [0.5 - 0.07 * i, v] as const)
    const out = new Float32Array(B * D)
    const variants = ['fused', 'addN', 'chain'] as const
    const t = variants.map((): number[] => [])
    const js: number[] = []
    for (let r = 0; r < 3 * REPS; r++) {
      variants.forEach((v, i) => t[i]!.push(ms(() => tf.tidy(() => void Tfjs.lincomb(v)(terms)))))
      js.push(
        ms(() =>
          pass(
            out,
            terms.map(([c]) => c),
            arrays,
          ),
        ),
      )
    }
    tf.dispose(vs)
    const ref = median(js)
    return `| ${B}×${D} | ${m} | ${variants.map((_, i) => `${median(t[i]!).toFixed(3)} (${(median(t[i]!) / ref).toFixed(2)})`).join(' | ')} | ${ref.toFixed(3)} |`
  })

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

await Tfjs.init('wasm')
console.log(`# stepwise bench/overhead.ts — ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg()[0]!.toFixed(2)}`)
console.log(`tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, fused path: ${Tfjs.fusedPath()}, default variant: ${Tfjs.bestVariant()}, NFE ${NFE}, ${REPS} reps (medians)\n`)
console.log('## per-step overhead (model excluded) vs one JS Float32Array pass\n')
console.log('| solver | combines/step × tensors (typ.) | B×D | lincomb | ms / step | JS pass ms / step | ratio |')
console.log('|---|---|---|---|---:|---:|---:|')
for (const [B, D] of SIZES)
  for (const r of solverRows(B, D)) console.log(`| ${r.solver} | ${r.terms} | ${r.size} | ${r.variant} | ${r.stepMs.toFixed(3)} | ${r.refMs.toFixed(3)} | ${(r.stepMs / r.refMs).toFixed(2)} |`)
console.log(`\nload ${os.loadavg()[0]!.toFixed(2)}`)
console.log('\n## one lincomb of m tensors: ms (ratio to the JS pass)\n')
console.log('| B×D | m | fused (SIMD) | addN | chain | JS pass |')
console.log('|---|---:|---:|---:|---:|---:|')
for (const [B, D] of SIZES) for (const line of lincombRows(B, D)) console.log(line)

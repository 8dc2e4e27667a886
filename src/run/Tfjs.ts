/**
 * The Tfjs interpreter: values are float32 tensors of shape [B, D] on any registered backend
 * (`wasm` by default in Node, `cpu`, `webgl`/`webgpu` in the browser). Every instruction runs
 * inside `tf.tidy`; the values the program still holds survive it, and every value the program
 * stops holding (entries dropped, replaced x's) is disposed at once, so `tf.memory().numTensors`
 * stays flat across steps. Coefficients stay float64 numbers up to the kernel that applies them.
 */
import * as tf from '@tensorflow/tfjs'
import { KERNEL, kernelArgs } from './Kernel.ts'
import type { Point } from '../core/NoiseSchedule.ts'
import * as Noise from '../core/Noise.ts'
import * as Prog from './Program.ts'
import * as Float64 from './Float64.ts'
import { guard, stepError } from './Float64.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a tfjs backend name */
export type Backend = 'wasm' | 'cpu' | 'webgl' | 'webgpu'

/**
 * a model on [B, D] float32 tensors (native parameterization of the compiled program); must return a new tensor;
 * `subset`: x holds only those rows of the batch (per-sample times): a model conditioned per row takes the same rows of its condition
 */
export type Model = (x: tf.Tensor2D, at: Point, subset?: Prog.Subset) => tf.Tensor2D

/** a run's result: the caller owns `x` (dispose it) */
export interface Result {
  readonly x: tf.Tensor2D
  readonly nfe: number
}

/**
 * how Σ cᵢ·vᵢ is computed: 'fused' one custom kernel pass with float64 accumulation (wasm, cpu);
 * 'addN' addN(vᵢ·cᵢ) (n + 1 ops); 'chain' ((v₀·c₀ + v₁·c₁) + …) (2n − 1 ops)
 */
export type Variant = 'fused' | 'addN' | 'chain'

/** run options */
export interface Options {
  /** after every combine, test Σx (free with 'fused', else one reduction read back) and stop with the step index if it is not finite (default true) */
  readonly check?: boolean
  /** lincomb variant (default: `bestVariant()` for the active backend) */
  readonly lincomb?: Variant
  /** called after instruction `index` once its releases are done (memory laws, profiling) */
  readonly observe?: (index: number, ins: Prog.Instr) => void
  /** noise seed (stochastic steps) and the sample index of the first row (batch-invariant noise) */
  readonly seed?: number
  readonly rowOffset?: number
  /** the mean-reverting condition μ [B, D] (mean-reverting schedules); the caller keeps ownership */
  readonly mu?: tf.Tensor2D
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** select `backend` (importing the wasm backend for 'wasm'), await ready; throws if tfjs fell back to another */
export const init = async (backend: Backend = 'wasm'): Promise<void> => {
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm')
  const ok = await tf.setBackend(backend).catch((e: unknown) => (e instanceof Error ? e.message : String(e)))
  const why = typeof ok === 'string' ? ok : ok ? 'tfjs switched to another backend' : 'its initialization failed'
  await tf.ready()
  const b = tf.backend()
  if (isWasm(b)) await prepareSimd(memoryOf(b))
  const active = tf.getBackend()
  if (active !== backend)
    throw new Error(
      `Tfjs.init: tfjs backend '${backend}' is not available (${why}); tfjs is on '${active}'. ` +
        `Registered: ${Object.keys(tf.engine().registryFactory).join(', ')}. ` +
        (backend === 'webgpu'
          ? "import '@tensorflow/tfjs-backend-webgpu' first (browser with WebGPU)"
          : backend === 'webgl'
            ? 'webgl needs a browser (WebGL context)'
            : 'use one of the registered backends'),
    )
}

/** a [B, D] float32 tensor from a row-major float64 batch (each value rounded to float32) */
export const fromFloat64 = (rows: Float64Array, D: number): tf.Tensor2D => {
  if (!Number.isInteger(D) || D <= 0 || rows.length % D !== 0) throw new Error(`fromFloat64: ${rows.length} values are not rows of D = ${D}`)
  return tf.tensor2d(Float32Array.from(rows), [rows.length / D, D], 'float32')
}

// -------------------------------------------------------------------------------------------------
// kernels: Σ cᵢ·vᵢ in one pass
// -------------------------------------------------------------------------------------------------

type Terms = ReadonlyArray<readonly [number, tf.Tensor2D]>

const NONE = new Float64Array(0)

/** acc[k] ← (add ? acc[k] + c_j·v_j[k] : c_j·v_j[k]) + c_{j+1}·v_{j+1}[k] + … (4 terms from j, float64) */
const into4 = (acc: Float64Array, add: boolean, from: number, c: ReadonlyArray<number>, v: ReadonlyArray<Float32Array>, j: number): void => {
  const [a, b, d, e] = [v[j]!, v[j + 1]!, v[j + 2]!, v[j + 3]!]
  const [ca, cb, cd, ce] = [c[j]!, c[j + 1]!, c[j + 2]!, c[j + 3]!]
  for (let k = from; k < acc.length; k++) acc[k] = (add ? acc[k]! + ca * a[k]! : ca * a[k]!) + cb * b[k]! + cd * d[k]! + ce * e[k]!
}

/** o[k] ← fround((add ? acc[k] + c_j·v_j[k] : c_j·v_j[k]) + …) over the 1–4 terms from j; returns Σₖ o[k] */
const last = (o: Float32Array, acc: Float64Array, add: boolean, from: number, c: ReadonlyArray<number>, v: ReadonlyArray<Float32Array>, j: number): number => {
  const n = o.length
  const [a, b, d, e] = [v[j]!, v[j + 1]!, v[j + 2]!, v[j + 3]!]
  const [ca, cb, cd, ce] = [c[j]!, c[j + 1]!, c[j + 2]!, c[j + 3]!]
  let sum = 0
  switch (v.length - j) {
    case 1:
      for (let k = from; k < n; k++) {
        o[k] = add ? acc[k]! + ca * a[k]! : ca * a[k]!
        sum += o[k]! // the stored float32: overflow to ±∞ counts
      }
      return sum
    case 2:
      for (let k = from; k < n; k++) {
        o[k] = (add ? acc[k]! + ca * a[k]! : ca * a[k]!) + cb * b[k]!
        sum += o[k]! // the stored float32: overflow to ±∞ counts
      }
      return sum
    case 3:
      for (let k = from; k < n; k++) {
        o[k] = (add ? acc[k]! + ca * a[k]! : ca * a[k]!) + cb * b[k]! + cd * d[k]!
        sum += o[k]! // the stored float32: overflow to ±∞ counts
      }
      return sum
    default:
      for (let k = from; k < n; k++) {
        o[k] = (add ? acc[k]! + ca * a[k]! : ca * a[k]!) + cb * b[k]! + cd * d[k]! + ce * e[k]!
        sum += o[k]! // the stored float32: overflow to ±∞ counts
      }
      return sum
  }
}

/**
 * o[k] = fround(((c₀v₀[k] + c₁v₁[k]) + …)) for k ≥ from, accumulated in float64 (through a float64
 * scratch beyond 4 terms); returns Σₖ o[k], non-finite iff some o[k] is (or the float64 sum overflows)
 */
const fill = (o: Float32Array, c: ReadonlyArray<number>, v: ReadonlyArray<Float32Array>, from = 0): number => {
  if (v.length <= 4) return last(o, NONE, false, from, c, v, 0)
  const acc = new Float64Array(o.length)
  let j = 0
  for (; v.length - j > 4; j += 4) into4(acc, j > 0, from, c, v, j)
  return last(o, acc, true, from, c, v, j)
}

/** LEB128 (unsigned) */
const uleb = (n: number): number[] => {
  const out: number[] = []
  for (let r = n >>> 0; ;) {
    const byte = r & 0x7f
    r >>>= 7
    out.push(r === 0 ? byte : byte | 0x80)
    if (r === 0) return out
  }
}
const vec = (items: ReadonlyArray<ReadonlyArray<number>>): number[] => [...uleb(items.length), ...items.flat()]
const section = (id: number, body: ReadonlyArray<number>): number[] => [id, ...uleb(body.length), ...body]
const name = (s: string): number[] => vec([...s].map((ch) => [ch.charCodeAt(0)]))
const simd = (op: number): number[] => [0xfd, ...uleb(op)]
const get = (i: number): number[] => [0x20, ...uleb(i)]
const set = (i: number): number[] => [0x21, ...uleb(i)]
const [I32, F64, V128] = [0x7f, 0x7c, 0x7b]
const [LOAD, STORE, SHUFFLE, F64X2_SPLAT, F32X4_LANE, DEMOTE, PROMOTE, F32X4_ADD, F64X2_ADD, F64X2_MUL] = [0x00, 0x0b, 0x0d, 0x14, 0x1f, 0x5e, 0x5f, 0xe4, 0xf0, 0xf2]
/** most terms one SIMD call takes (more: the JS pass) */
const SIMD_TERMS = 12

/**
 * function `l<m>`(o, bytes, p₀…p₍ₘ₋₁₎: i32, c₀…c₍ₘ₋₁₎: f64) → f64: for each 4 floats at byte k < bytes,
 * lo/hi = Σᵢ cᵢ·promote(vᵢ[k..k+4]) in f64x2 (same order as `fill`), o[k..] = demote(lo, hi), returns Σ o (f32 lanes)
 */
const simdBody = (m: number): number[] => {
  const [o, bytes, p, c] = [0, 1, (i: number) => 2 + i, (i: number) => 2 + m + i]
  const k = 2 + 2 * m
  const C = (i: number) => k + 1 + i
  const [lo, hi, t, s] = [k + 1 + m, k + 2 + m, k + 3 + m, k + 4 + m]
  const upper = [...simd(SHUFFLE), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]
  const join = [...simd(SHUFFLE), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]
  const term = (i: number, half: number[], into: number) => [...get(t), ...half, ...simd(PROMOTE), ...get(C(i)), ...simd(F64X2_MUL), ...(i > 0 ? [...get(into), ...simd(F64X2_ADD)] : []), ...set(into)]
  const code = [
    ...Array.from({ length: m }, (_, i) => [...get(c(i)), ...simd(F64X2_SPLAT), ...set(C(i))]).flat(),
    0x02,
    0x40,
    0x03,
    0x40, // block, loop
    ...get(k),
    ...get(bytes),
    0x4f,
    0x0d,
    1, // br_if (k ≥ bytes) out
    ...Array.from({ length: m }, (_, i) => [...get(p(i)), ...get(k), 0x6a, ...simd(LOAD), 4, 0, ...set(t), ...term(i, [], lo), ...term(i, [...get(t), ...upper], hi)]).flat(),
    ...get(o),
    ...get(k),
    0x6a,
    ...get(lo),
    ...simd(DEMOTE),
    ...get(hi),
    ...simd(DEMOTE),
    ...join,
    0x22,
    ...uleb(t), // local.tee t
    ...simd(STORE),
    4,
    0,
    ...get(s),
    ...get(t),
    ...simd(F32X4_ADD),
    ...set(s),
    ...get(k),
    0x41,
    16,
    0x6a,
    ...set(k),
    0x0c,
    0,
    0x0b,
    0x0b, // k += 16, br loop, end, end
    ...[0, 1, 2, 3].flatMap((l) => [...get(s), ...simd(F32X4_LANE), l, ...(l > 0 ? [0x92] : [])]), // f32.add
    0xbb,
    0x0b, // f64.promote_f32, end
  ]
  const f = [
    ...vec([
      [1, I32],
      [m + 4, V128],
    ]),
    ...code,
  ]
  return [...uleb(f.length), ...f]
}

/** the SIMD module: imports env.memory (the wasm backend's heap), exports l1 … l12 */
const simdModule: Uint8Array<ArrayBuffer> = (() => {
  const ms = Array.from({ length: SIMD_TERMS }, (_, i) => i + 1)
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec(ms.map((m) => [0x60, ...vec([I32, I32, ...Array<number>(m).fill(I32), ...Array<number>(m).fill(F64)].map((x) => [x])), 1, F64]))),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec(ms.map((_, i) => uleb(i)))),
    ...section(7, vec(ms.map((m, i) => [...name(`l${m}`), 0x00, ...uleb(i)]))),
    ...section(10, vec(ms.map(simdBody))),
  ])
})()

/** the wasm backend's heap access (BackendWasm) */
interface WasmBackend {
  readonly wasm: object
  readonly makeOutput: (shape: number[], dtype: 'float32') => tf.TensorInfo
  readonly typedArrayFromHeap: (t: tf.TensorInfo) => ArrayBufferView
  readonly getMemoryOffset: (id: tf.DataId) => number
}
/** the cpu backend's storage (MathBackendCPU) */
interface CpuBackend {
  readonly data: { readonly get: (id: tf.DataId) => { readonly values?: unknown } }
  readonly makeTensorInfo: (shape: number[], dtype: 'float32', values: Float32Array) => tf.TensorInfo
}
type SimdFn = (...args: number[]) => number

const isWasm = (b: object): b is WasmBackend =>
  'wasm' in b &&
  typeof b.wasm === 'object' &&
  b.wasm !== null &&
  'makeOutput' in b &&
  typeof b.makeOutput === 'function' &&
  'typedArrayFromHeap' in b &&
  typeof b.typedArrayFromHeap === 'function' &&
  'getMemoryOffset' in b &&
  typeof b.getMemoryOffset === 'function'
const isCpu = (b: object): b is CpuBackend => 'makeTensorInfo' in b && typeof b.makeTensorInfo === 'function' && 'data' in b && typeof b.data === 'object' && b.data !== null
const f32 = (v: unknown, what: string): Float32Array => {
  if (v instanceof Float32Array) return v
  throw new Error(`${KERNEL}: ${what} is not float32 data`)
}
const field = (o: unknown, k: string): unknown => (typeof o === 'object' && o !== null && k in o ? Object.getOwnPropertyDescriptor(o, k)?.value : undefined)

/** the Memory of the wasm backend's module (emscripten: Module.asm.memory or Module.wasmMemory) */
const memoryOf = (b: WasmBackend): WebAssembly.Memory | undefined => {
  const m = field(field(b.wasm, 'asm'), 'memory') ?? field(b.wasm, 'wasmMemory')
  return m instanceof WebAssembly.Memory ? m : undefined
}

/** SIMD entry points per heap, or null where the module cannot run (no SIMD, shared memory) */
const simdCache = new WeakMap<WebAssembly.Memory, ReadonlyArray<SimdFn> | null>()

const entryPoints = (i: WebAssembly.Instance): ReadonlyArray<SimdFn> =>
  Array.from({ length: SIMD_TERMS }, (_, m) => {
    const f = i.exports[`l${m + 1}`]
    if (typeof f !== 'function') throw new Error(`internal: SIMD export l${m + 1} missing`)
    return (...args: number[]): number => Number(f(...args))
  })

/** instantiate the SIMD module on `mem` (async: browsers forbid large synchronous compiles on the main thread) */
const prepareSimd = async (mem: WebAssembly.Memory | undefined): Promise<void> => {
  if (mem === undefined || simdCache.has(mem)) return
  const inst = await WebAssembly.instantiate(simdModule, { env: { memory: mem } }).catch(() => null)
  simdCache.set(mem, inst === null ? null : entryPoints(inst.instance))
}

/** the SIMD entry points for `mem`, compiling synchronously if `init` did not (Node, workers) */
const simdFor = (mem: WebAssembly.Memory | undefined): ReadonlyArray<SimdFn> | null => {
  if (mem === undefined) return null
  const cached = simdCache.get(mem)
  if (cached !== undefined) return cached
  const fns = (() => {
    try {
      return entryPoints(new WebAssembly.Instance(new WebAssembly.Module(simdModule), { env: { memory: mem } }))
    } catch {
      return null
    }
  })()
  simdCache.set(mem, fns)
  return fns
}

/** Σx of each fused output, by data id: the per-step finiteness check reads it instead of reducing again */
const checksums = new WeakMap<tf.DataId, number>()

/** wasm: the SIMD pass in place on the heap (JS pass on the heap views for the < 4 tail floats, or without SIMD) */
const wasmKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  if (!isWasm(backend)) throw new Error(`${KERNEL}: not the wasm backend`)
  const { c, vs, shape } = kernelArgs(inputs, attrs)
  const out = backend.makeOutput(shape, 'float32') // first: malloc may grow the heap and detach older views
  const fns = c.length <= SIMD_TERMS ? simdFor(memoryOf(backend)) : null
  const n = tf.util.sizeFromShape(shape)
  const done = fns === null ? 0 : n - (n % 4)
  const head = fns === null ? 0 : fns[c.length - 1]!(backend.getMemoryOffset(out.dataId), 4 * done, ...vs.map((v) => backend.getMemoryOffset(v.dataId)), ...c)
  const tail =
    done === n
      ? 0
      : fill(
          f32(backend.typedArrayFromHeap(out), 'output'),
          c,
          vs.map((v) => f32(backend.typedArrayFromHeap(v), 'input')),
          done,
        )
  checksums.set(out.dataId, head + tail)
  return out
}

/** cpu: the JS pass over the stored values */
const cpuKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  if (!isCpu(backend)) throw new Error(`${KERNEL}: not the cpu backend`)
  const { c, vs, shape } = kernelArgs(inputs, attrs)
  const o = new Float32Array(tf.util.sizeFromShape(shape))
  const sum = fill(
    o,
    c,
    vs.map((v) => f32(backend.data.get(v.dataId).values, 'input')),
  )
  const out = backend.makeTensorInfo(shape, 'float32', o)
  checksums.set(out.dataId, sum)
  return out
}

for (const [backendName, kernelFunc] of [
  ['wasm', wasmKernel],
  ['cpu', cpuKernel],
] as const)
  if (tf.getKernelsForBackend(backendName).every((k) => k.kernelName !== KERNEL)) tf.registerKernel({ kernelName: KERNEL, backendName, kernelFunc })

// -------------------------------------------------------------------------------------------------
// instances: Σ cᵢ·vᵢ
// -------------------------------------------------------------------------------------------------

/** whether the fused kernel exists for the active backend */
const hasFused = (): boolean => tf.getKernel(KERNEL, tf.getBackend()) !== undefined

/** which fused pass the active backend runs: 'simd' (wasm with SIMD), 'js' (cpu, or wasm without SIMD), 'none' */
export const fusedPath = (): 'simd' | 'js' | 'none' => {
  const b = tf.backend()
  return !hasFused() ? 'none' : isWasm(b) && simdFor(memoryOf(b)) !== null ? 'simd' : 'js'
}

/** Σ cᵢ·vᵢ by `variant` over terms with cᵢ ≠ 0 (≥ 2 of them, or one with cᵢ ≠ 1) */
const combine = (variant: Variant, t: Terms): tf.Tensor2D => {
  switch (variant) {
    case 'fused':
      if (hasFused()) return tf.engine().runKernel<tf.Tensor2D>(KERNEL, Object.fromEntries(t.map(([, v], i) => [`v${i}`, v])), { c: t.map(([c]) => c) })
      return combine('addN', t)
    case 'addN':
      return t.length === 1 ? tf.mul(t[0]![1], t[0]![0]) : tf.addN(t.map(([c, v]) => tf.mul<tf.Tensor2D>(v, c)))
    case 'chain':
      return t.slice(1).reduce((acc, [c, v]) => tf.add<tf.Tensor2D>(acc, tf.mul(v, c)), tf.mul<tf.Tensor2D>(t[0]![1], t[0]![0]))
  }
}

/** the fastest variant measured on the active backend (bench/RESULTS.md): 'fused' where it exists, else 'addN' */
export const bestVariant = (): Variant => (hasFused() ? 'fused' : 'addN')

/** terms on the same tensor merged (coefficients summed in float64, first-appearance order), zeros dropped */
const merged = (terms: Terms): Terms => {
  const by = new Map<tf.Tensor2D, number>()
  for (const [c, v] of terms) by.set(v, (by.get(v) ?? 0) + c)
  return [...by].filter(([, c]) => c !== 0).map(([v, c]) => [c, v] as const)
}

/** Linear instance: Σ cᵢ·vᵢ with equal vᵢ merged and zero cᵢ skipped; always a new tensor (1·v: a clone sharing v's data; all zero: zeros) */
export const lincomb =
  (variant: Variant = bestVariant()) =>
  (terms: Terms): tf.Tensor2D => {
    const first = terms[0]
    if (first === undefined) throw new Error('lincomb: no terms')
    const t = merged(terms)
    if (t.length === 0) return tf.zerosLike(first[1])
    if (t.length === 1 && t[0]![0] === 1) return tf.clone(t[0]![1])
    return combine(variant, t)
  }

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** index of the first non-finite element, or −1 */
const firstBad = (v: ArrayLike<number>): number => {
  for (let k = 0; k < v.length; k++) if (!Number.isFinite(v[k]!)) return k
  return -1
}

/**
 * finiteness check: Σx (the fused kernel's checksum, else one reduction read back) is non-finite iff
 * some xₖ is or the sum overflows; only then scan the values to find the element (or clear it)
 */
const check = (x: tf.Tensor2D, step: number, role: string): void => {
  if (Number.isFinite(checksums.get(x.dataId) ?? tf.sum(x).dataSync()[0]!)) return
  const v = x.dataSync()
  const k = firstBad(v)
  if (k >= 0)
    throw stepError(
      step,
      `the ${role} produced ${v[k]} at element ${k} (row ${Math.floor(k / x.shape[1])}, column ${k % x.shape[1]}): a float32 overflow (|x| above 3.4e38; squared distances overflow from |x| ≈ 1.8e19) or a non-finite model output; this interpreter does not check model outputs, the Float64 interpreter names the first non-finite value`,
    )
}

/** every tensor a state holds: x, the registers, and each entry's x, xe, out, vel */
const held = (s: Prog.State<tf.Tensor2D>): Set<tf.Tensor2D> => {
  const h = new Set<tf.Tensor2D>([s.x])
  for (const v of s.regs?.values() ?? []) h.add(v)
  for (const e of s.entries.values()) {
    h.add(e.x).add(e.xe).add(e.out)
    if (e.vel !== undefined) h.add(e.vel)
  }
  return h
}

/** per-row mean, unbiased variance and norm (read back as float64, computed as Float64.rowStats) */
const rowStats = (v: tf.Tensor2D): Prog.RowStats => Float64.rowStats(v.shape[1])(Float64Array.from(v.dataSync()))

/** the [B, D] tensor whose rows `rows` are `part`'s rows, for each (rows, part): concat, then gather by the inverse order */
const putRows = (parts: ReadonlyArray<readonly [ReadonlyArray<number>, tf.Tensor2D]>): tf.Tensor2D => {
  const order = parts.flatMap(([rows]) => rows)
  const inverse = new Int32Array(order.length)
  order.forEach((r, k) => (inverse[r] = k))
  return tf.tidy(() =>
    tf.gather(
      tf.concat(
        parts.map(([, v]) => v),
        0,
      ),
      inverse,
    ),
  )
}

/** Σ cᵢ·vᵢ with number, per-row ([B, 1]) or per-column ([1, D]) coefficients */
const lincombWide = (terms: ReadonlyArray<readonly [Prog.Coef, tf.Tensor2D]>): tf.Tensor2D =>
  tf.tidy(() =>
    tf.addN(
      terms.map(([c, v]) =>
        typeof c === 'number'
          ? tf.mul<tf.Tensor2D>(v, c)
          : 'rows' in c
            ? tf.mul<tf.Tensor2D>(v, tf.tensor2d(Float32Array.from(c.rows), [c.rows.length, 1]))
            : tf.mul<tf.Tensor2D>(v, tf.tensor2d(Float32Array.from(c.cols), [1, c.cols.length])),
      ),
    ),
  )

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/**
 * the Tfjs environment over a model: lincomb by `variant`, release = dispose, the Σx check after each
 * combine unless `check: false` (model outputs are not checked: a non-finite output reaches the next combine)
 */
export const env = (model: Model, opts: Pick<Options, 'check' | 'lincomb' | 'seed' | 'rowOffset' | 'mu'> = {}): Prog.Env<tf.Tensor2D> => ({
  lincomb: lincomb(opts.lincomb ?? bestVariant()),
  model,
  release: (v) => v.dispose(),
  ...(opts.check === false ? {} : { check }),
  // counter-based noise generated in float64 on the CPU, so it is bit-identical to the Float64 interpreter's draws before rounding
  normal: (key, like) => {
    const [B, D] = like.shape
    return tf.tensor2d(Float32Array.from(Noise.normals(opts.seed ?? 0, key, B, D, opts.rowOffset ?? 0)), [B, D])
  },
  stats: rowStats,
  lincombWide,
  rows: { take: (v, rows) => tf.gather(v, Array.from(rows)), put: putRows },
  gather: (v, idx) => tf.gather(v, Array.from(idx)),
  ones: (like) => tf.onesLike(like),
  ...(opts.mu === undefined ? {} : { mu: opts.mu }),
})

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** Float64Array copy of a tensor's values (row-major) */
export const toFloat64 = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync())

/**
 * run a compiled program on x_T [B, D]: `Program.exec` per instruction inside `tf.tidy`, keeping
 * what the new state holds and releasing what the old state held and the new one does not.
 * x_T stays the caller's; afterwards only the returned x is new. A non-finite value throws a
 * StepError (after releasing everything the run held).
 */
export const run =
  (p: Prog.Program, model: Model, opts: Options = {}) =>
  (xT: tf.Tensor2D): Result => {
    const st = stepper(p, model, opts, [xT])
    let s = st.init(xT)
    try {
      s = st.runFrom(s)
    } catch (err) {
      st.dispose(st.latest() ?? s, new Set())
      throw err
    }
    st.dispose(s, new Set([s.x]))
    return { x: s.x === xT ? tf.clone(xT) : s.x, nfe: s.nfe }
  }

/**
 * the stepping API on tensors: each instruction inside `tf.tidy`, keeping what the new state holds and releasing what
 * the old one held and the new one does not (x_T, μ and `keep` stay the caller's); `dispose(s, keep)` releases a state
 */
export const stepper = (
  p: Prog.Program,
  model: Model,
  opts: Options = {},
  keep: ReadonlyArray<tf.Tensor2D> = [],
): Prog.Stepper<tf.Tensor2D> & {
  readonly env: Prog.Env<tf.Tensor2D>
  readonly dispose: (s: Prog.State<tf.Tensor2D>, keep: ReadonlySet<tf.Tensor2D>) => void
  /** the state after the last instruction that completed (what to dispose when a run stops on an error) */
  readonly latest: () => Prog.State<tf.Tensor2D> | undefined
} => {
  let last: Prog.State<tf.Tensor2D> | undefined
  const own = new Set([...keep, ...(opts.mu === undefined ? [] : [opts.mu])])
  // the caller's tensors (x_T, μ, `keep`) are never released, also not by gatherRows
  const e: Prog.Env<tf.Tensor2D> = { ...env(model, opts), release: (v) => (own.has(v) ? undefined : v.dispose()) }
  const release = (kept: ReadonlySet<tf.Tensor2D>) => (h: ReadonlySet<tf.Tensor2D>) => {
    for (const v of h) if (!kept.has(v) && !own.has(v)) e.release?.(v)
  }
  const guarded = (step: number): Prog.Env<tf.Tensor2D> => guard(e, () => step)
  const execute: Prog.Execute<tf.Tensor2D> = (s, ins, k) => {
    const before = held(s)
    const next = ins.op === 'drop' ? Prog.exec(e)(s, ins) : tidyExec(guarded(ins.step), s, ins, before)
    release(held(next))(before)
    opts.observe?.(k, ins)
    last = next
    return next
  }
  return { ...Prog.stepper(e, p, execute), env: e, dispose: (s, kept) => release(kept)(held(s)), latest: () => last }
}

/** one instruction inside tf.tidy; the tensors of the new state that the old did not hold survive */
const tidyExec = (e: Prog.Env<tf.Tensor2D>, s: Prog.State<tf.Tensor2D>, ins: Prog.Instr, before: ReadonlySet<tf.Tensor2D>): Prog.State<tf.Tensor2D> => {
  const out: { next?: Prog.State<tf.Tensor2D> } = {}
  tf.tidy(() => {
    out.next = Prog.exec(e)(s, ins)
    return [...held(out.next)].filter((v) => !before.has(v))
  })
  if (out.next === undefined) throw new Error('internal: tidy did not run')
  return out.next
}

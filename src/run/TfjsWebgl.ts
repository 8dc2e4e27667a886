/**
 * The fused linear combination Σ cᵢ·vᵢ for the tfjs `webgl` backend: the kernel 'StepwiseLincomb' of
 * `Tfjs.ts` (inputs v0 … v₍ₙ₋₁₎ float32 of one shape, attribute `c`: the n coefficients) as one
 * fragment-shader pass (a tfjs GPGPUProgram run by `backend.compileAndRun`) instead of n multiplies
 * and an addN. Import it for its side effect, after `@tensorflow/tfjs`:
 *
 *   import 'stepwise/src/run/TfjsWebgl.ts'   // then Tfjs.bestVariant() is 'fused' on webgl
 *
 * The coefficients are uniforms, so one compiled shader serves every step with the same term count
 * and shape. Limitations: the coefficients enter as float32 uniforms and the sum is accumulated in
 * the shader's float (float32 where the device has highp fragment floats, as every WebGL2 device
 * with float32 render targets does; on devices limited to float16 textures/mediump both are
 * float16). This is no worse than the addN path, which also rounds each cᵢ to float32, but unlike
 * the wasm and cpu kernels there is no float64 accumulation and no checksum (the interpreter's
 * finiteness check reads back one sum per combine). The coefficients here are O(1); a schedule
 * whose coefficients cancel at large magnitude loses accuracy in proportion to Σ|cᵢ|.
 */
import * as tf from '@tensorflow/tfjs'
import { KERNEL, kernelArgs } from './Kernel.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the kernel's name: the one `Tfjs.ts` dispatches to */

/** the part of tfjs-backend-webgl's GPGPUProgram this kernel sets */
export interface Program {
  readonly variableNames: string[]
  readonly outputShape: number[]
  readonly userCode: string
  readonly packedInputs: boolean
  readonly packedOutput: boolean
  readonly customUniforms: Array<{ readonly name: string; readonly type: 'float'; readonly arrayIndex: number }>
}

/** the part of MathBackendWebGL this kernel uses */
interface WebglBackend {
  readonly compileAndRun: (program: Program, inputs: tf.TensorInfo[], dtype: 'float32', customUniformValues: number[][]) => tf.TensorInfo
  readonly disposeIntermediateTensorInfo: (t: tf.TensorInfo) => void
  readonly gpgpu: object
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * the shader of Σᵢ c[i]·Tᵢ over n inputs: vec4 lanes when `packed` (2×2 texels, as tfjs packs by
 * default), one float otherwise; `c` is a uniform float[n]
 */
export const program = (n: number, shape: ReadonlyArray<number>, packed: boolean): Program => {
  const names = Array.from({ length: n }, (_, i) => `T${i}`)
  const type = packed ? 'vec4' : 'float'
  const sum = names.map((v, i) => `c[${i}] * get${v}AtOutCoords()`).join(' +\n          ')
  return {
    variableNames: names,
    outputShape: [...shape],
    packedInputs: packed,
    packedOutput: packed,
    customUniforms: [{ name: 'c', type: 'float', arrayIndex: n }],
    userCode: `
      void main() {
        ${type} result = ${sum};
        setOutput(result);
      }
    `,
  }
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const isWebgl = (b: object): b is WebglBackend =>
  'compileAndRun' in b &&
  typeof b.compileAndRun === 'function' &&
  'disposeIntermediateTensorInfo' in b &&
  typeof b.disposeIntermediateTensorInfo === 'function' &&
  'gpgpu' in b &&
  typeof b.gpgpu === 'object' &&
  b.gpgpu !== null

/** most textures one shader may sample (tfjs' WEBGL_MAX_TEXTURES_IN_SHADER, at least 2) */
const maxTerms = (): number => Math.max(2, tf.env().getNumber('WEBGL_MAX_TEXTURES_IN_SHADER'))

/**
 * Σ cᵢ·vᵢ in passes of at most `max` textures: the first pass takes `max` terms, each next pass
 * takes the previous partial sum (coefficient 1) and `max` − 1 more terms
 */
const passes = (b: WebglBackend, c: ReadonlyArray<number>, vs: ReadonlyArray<tf.TensorInfo>, max: number): tf.TensorInfo => {
  const packed = tf.env().getBool('WEBGL_PACK')
  const run = (cs: ReadonlyArray<number>, ts: ReadonlyArray<tf.TensorInfo>) => b.compileAndRun(program(ts.length, ts[0]!.shape, packed), [...ts], 'float32', [Array.from(cs, Math.fround)])
  const first = run(c.slice(0, max), vs.slice(0, max))
  const step = (acc: tf.TensorInfo, from: number): tf.TensorInfo => {
    if (from >= c.length) return acc
    const next = run([1, ...c.slice(from, from + max - 1)], [acc, ...vs.slice(from, from + max - 1)])
    b.disposeIntermediateTensorInfo(acc)
    return step(next, from + max - 1)
  }
  return step(first, max)
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** webgl: Σ cᵢ·vᵢ in one shader pass (more passes only beyond WEBGL_MAX_TEXTURES_IN_SHADER terms) */
export const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  if (!isWebgl(backend)) throw new Error(`${KERNEL}: not the webgl backend`)
  const { c, vs } = kernelArgs(inputs, attrs)
  return passes(backend, c, vs, maxTerms())
}

if (tf.getKernelsForBackend('webgl').every((k) => k.kernelName !== KERNEL)) tf.registerKernel({ kernelName: KERNEL, backendName: 'webgl', kernelFunc })

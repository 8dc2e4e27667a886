/**
 * The fused linear combination Σ cᵢ·vᵢ for the tfjs `webgpu` backend: the kernel 'StepwiseLincomb'
 * of `Tfjs.ts` as one WGSL compute pass (a tfjs WebGPUProgram run by `backend.runWebGPUProgram`).
 * Import it for its side effect, after `@tensorflow/tfjs-backend-webgpu`; then Tfjs.bestVariant()
 * is 'fused' on webgpu. Coefficients are f32 uniforms (one pipeline per term count and shape) and
 * the sum is accumulated in f32: the limitations of `TfjsWebgl.ts` apply, without the float16 case.
 */
import * as tf from '@tensorflow/tfjs'

import { KERNEL, kernelArgs } from './Kernel.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the part of tfjs-backend-webgpu's WebGPUProgram this kernel sets */
export interface Program {
  readonly variableNames: string[]
  readonly outputShape: number[]
  readonly shaderKey: string
  readonly uniforms: string
  readonly size: boolean
  /** 4: each invocation reads and writes vec4s (sizes divisible by 4), as tfjs' own vec4 programs */
  readonly outputComponent: number
  readonly workPerThread: number
  readonly workgroupSize: [number, number, number]
  readonly dispatchLayout: { readonly x: number[] }
  readonly dispatch: [number, number, number]
  readonly getUserCode: () => string
}

/** the part of WebGPUBackend this kernel uses */
interface WebgpuBackend {
  readonly runWebGPUProgram: (program: Program, inputs: tf.TensorInfo[], dtype: 'float32', uniforms: Array<{ readonly type: 'float32'; readonly data: number[] }>) => tf.TensorInfo
  readonly disposeData: (id: tf.DataId) => boolean
  readonly device: object
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/**
 * the compute shader of Σᵢ uniforms.cᵢ·Tᵢ over n inputs in workgroups of 64 invocations, each on one
 * vec4 when the size is divisible by 4 (else one float)
 */
export const program = (n: number, shape: ReadonlyArray<number>): Program => {
  const names = Array.from({ length: n }, (_, i) => `T${i}`)
  const size = tf.util.sizeFromShape([...shape])
  const lanes = size % 4 === 0 ? 4 : 1
  const sum = names.map((v, i) => `uniforms.c${i} * get${v}ByOutputIndex(index)`).join(' +\n            ')
  return {
    variableNames: names,
    outputShape: [...shape],
    shaderKey: `stepwiseLincomb${n}x${lanes}`,
    uniforms: names.map((_, i) => `c${i} : f32,`).join(' '),
    size: true,
    outputComponent: lanes,
    workPerThread: lanes,
    workgroupSize: [64, 1, 1],
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / (64 * lanes)), 1, 1],
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, ${sum});
        }
      }
    `,
  }
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const isWebgpu = (b: object): b is WebgpuBackend =>
  'runWebGPUProgram' in b && typeof b.runWebGPUProgram === 'function' && 'disposeData' in b && typeof b.disposeData === 'function' && 'device' in b && typeof b.device === 'object' && b.device !== null

/** inputs per pass: the device's storage buffers per shader stage (WebGPU's default 8) minus the output */
const maxTerms = (b: WebgpuBackend): number => {
  const limits: unknown = 'limits' in b.device ? b.device.limits : undefined
  const n = typeof limits === 'object' && limits !== null && 'maxStorageBuffersPerShaderStage' in limits ? Number(limits.maxStorageBuffersPerShaderStage) : 8
  return Math.max(2, (Number.isFinite(n) ? n : 8) - 1)
}

/** Σ cᵢ·vᵢ in passes of at most `max` inputs (each next pass adds to the previous partial sum) */
const passes = (b: WebgpuBackend, c: ReadonlyArray<number>, vs: ReadonlyArray<tf.TensorInfo>, max: number): tf.TensorInfo => {
  const run = (cs: ReadonlyArray<number>, ts: ReadonlyArray<tf.TensorInfo>) =>
    b.runWebGPUProgram(
      program(ts.length, ts[0]!.shape),
      [...ts],
      'float32',
      cs.map((x) => ({ type: 'float32' as const, data: [x] })),
    )
  const step = (acc: tf.TensorInfo, from: number): tf.TensorInfo => {
    if (from >= c.length) return acc
    const next = run([1, ...c.slice(from, from + max - 1)], [acc, ...vs.slice(from, from + max - 1)])
    b.disposeData(acc.dataId)
    return step(next, from + max - 1)
  }
  return step(run(c.slice(0, max), vs.slice(0, max)), max)
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** webgpu: Σ cᵢ·vᵢ in one compute pass, vec4 lanes where the size allows (more passes only beyond the storage-buffer limit) */
export const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  if (!isWebgpu(backend)) throw new Error(`${KERNEL}: not the webgpu backend`)
  const { c, vs } = kernelArgs(inputs, attrs)
  return passes(backend, c, vs, maxTerms(backend))
}

if (tf.getKernelsForBackend('webgpu').every((k) => k.kernelName !== KERNEL)) tf.registerKernel({ kernelName: KERNEL, backendName: 'webgpu', kernelFunc })

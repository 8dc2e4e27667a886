/**
 * The fused linear-combination kernel's name and argument checks, shared by its wasm/cpu (Tfjs.ts), WebGL
 * (TfjsWebgl.ts) and WebGPU (TfjsWebgpu.ts) implementations: out = Σ cᵢ·vᵢ over inputs v0, v1, … with attribute c.
 */
import type * as tf from '@tensorflow/tfjs'

/** the registered kernel name */
export const KERNEL = 'StepwiseLincomb'

/** the kernel's inputs v0, v1, … and attribute c (float64 coefficients), checked: c numbers, every vᵢ float32 */
export const kernelArgs = (inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined) => {
  const c = attrs?.['c']
  if (!Array.isArray(c) || c.length === 0 || !c.every((x): x is number => typeof x === 'number')) throw new Error(`${KERNEL}: attribute c must be numbers`)
  const vs = c.map((_, i) => {
    const t = inputs[`v${i}`]
    if (t === undefined || t.dtype !== 'float32') throw new Error(`${KERNEL}: input v${i} must be a float32 tensor`)
    return t
  })
  return { c, vs, shape: [...vs[0]!.shape] }
}

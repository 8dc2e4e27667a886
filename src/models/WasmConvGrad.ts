/**
 * Fast conv-net gradients on the tfjs wasm backend, which lacks Conv2DBackpropFilter (dW) and runs
 * Conv2DBackpropInput (dx) as a naive loop ~10× slower than its XNNPACK forward Conv2D. For stride-1
 * convolutions (NHWC, dilation 1) both become forward convolutions: dx = conv(dy, W flipped in space
 * with in/out channels swapped, padded by k − 1 − pad), dW = conv(xᵀ, dyᵀ) with x as [Cin, H, W, B]
 * and dy as the filter [Ho, Wo, B, Cout]. Other strides: dW by an explicit im2col + BatchMatMul, dx by
 * the backend's own kernel. `register()` is a global side effect (call it after `Tfjs.init('wasm')`).
 */
import * as tf from '@tensorflow/tfjs'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the slice of the wasm backend these kernels use */
interface WasmBackend {
  readonly makeOutput: (shape: number[], dtype: 'float32') => tf.TensorInfo
  readonly typedArrayFromHeap: (t: tf.TensorInfo) => Float32Array
  readonly disposeData: (dataId: tf.DataId) => void
}

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding
type Shape4 = [number, number, number, number]

/** the attributes of both backprop kernels */
interface Attrs {
  readonly strides: [number, number] | number
  readonly pad: Pad
  readonly dataFormat?: 'NHWC' | 'NCHW'
  readonly dimRoundingMode?: 'floor' | 'round' | 'ceil'
  readonly filterShape?: Shape4
  readonly inputShape?: Shape4
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** run a wasm kernel at the backend level (no tensors, no engine bookkeeping) */
const kernel = (name: string, backend: tf.KernelBackend, inputs: tf.NamedTensorInfoMap, attrs: Record<string, unknown>): tf.TensorInfo => {
  const k = tf.getKernel(name, 'wasm')
  if (k === undefined) throw new Error(`WasmConvGrad: wasm kernel ${name} is not registered`)
  return k.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo
}

/** Pᵀ[k, n] = x[b, oy·sh + i − top, ox·sw + j − left, c], k = (i·kw + j)·Cin + c, n = (b·Ho + oy)·Wo + ox (0 outside) */
const im2colT = (x: Float32Array, out: Float32Array, info: tf.backend_util.Conv2DInfo): void => {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo, filterHeight: kh, filterWidth: kw } = info
  const { strideHeight: sh, strideWidth: sw } = info
  const { top, left } = info.padInfo
  const N = B * Ho * Wo
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < C; c++) {
        const row = ((i * kw + j) * C + c) * N
        for (let b = 0; b < B; b++)
          for (let oy = 0; oy < Ho; oy++) {
            const y = oy * sh + i - top
            const base = row + (b * Ho + oy) * Wo
            if (y < 0 || y >= H) {
              out.fill(0, base, base + Wo)
              continue
            }
            const xrow = (b * H + y) * W
            for (let ox = 0; ox < Wo; ox++) {
              const xx = ox * sw + j - left
              out[base + ox] = xx < 0 || xx >= W ? 0 : x[(xrow + xx) * C + c]!
            }
          }
      }
}

const infoOf = (xShape: Shape4, filterShape: Shape4, a: Attrs): tf.backend_util.Conv2DInfo => {
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC') throw new Error('WasmConvGrad: only NHWC')
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast')
}

/** dW of a stride-1 conv as one forward conv: conv(x as [Cin, H, W, B], dy as [Ho, Wo, B, Cout]) = [Cin, kh, kw, Cout] → [kh, kw, Cin, Cout] */
const filterGradStride1 = (be: tf.KernelBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo => {
  const w = be as unknown as WasmBackend
  const { top, bottom, left, right } = info.padInfo
  const xt = kernel('Transpose', be, { x }, { perm: [3, 1, 2, 0] })
  const dyt = kernel('Transpose', be, { x: dy }, { perm: [1, 2, 0, 3] })
  const pad = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ]
  const o = kernel('Conv2D', be, { x: xt, filter: dyt }, { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined })
  w.disposeData(xt.dataId)
  w.disposeData(dyt.dataId)
  const out = kernel('Transpose', be, { x: o }, { perm: [1, 2, 0, 3] })
  w.disposeData(o.dataId)
  return out
}

/** dW by im2col: Pᵀ [K, N] built into the wasm heap, times dy as [N, Cout] (BatchMatMul) */
const filterGradIm2col = (be: tf.KernelBackend, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, filterShape: Shape4): tf.TensorInfo => {
  const w = be as unknown as WasmBackend
  const K = info.filterHeight * info.filterWidth * info.inChannels
  const N = info.batchSize * info.outHeight * info.outWidth
  const pT = w.makeOutput([1, K, N], 'float32')
  im2colT(w.typedArrayFromHeap(x), w.typedArrayFromHeap(pT), info)
  const dy3: tf.TensorInfo = { dataId: dy.dataId, shape: [1, N, info.outChannels], dtype: 'float32' }
  const out = kernel('BatchMatMul', be, { a: pT, b: dy3 }, { transposeA: false, transposeB: false })
  w.disposeData(pT.dataId)
  return { dataId: out.dataId, shape: [...filterShape], dtype: 'float32' }
}

/** dx of a stride-1 conv as one forward conv with the flipped, channel-swapped filter, padded by k − 1 − pad */
const inputGradStride1 = (be: tf.KernelBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo => {
  const w = be as unknown as WasmBackend
  const { top, bottom, left, right } = info.padInfo
  const { filterHeight: kh, filterWidth: kw } = info
  const rev = kernel('Reverse', be, { x: filter }, { dims: [0, 1] })
  const flipped = kernel('Transpose', be, { x: rev }, { perm: [0, 1, 3, 2] })
  w.disposeData(rev.dataId)
  const pad = [
    [0, 0],
    [kh - 1 - top, kh - 1 - bottom],
    [kw - 1 - left, kw - 1 - right],
    [0, 0],
  ]
  const out = kernel('Conv2D', be, { x: dy, filter: flipped }, { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined })
  w.disposeData(flipped.dataId)
  return out
}

const stride1 = (info: tf.backend_util.Conv2DInfo): boolean => info.strideHeight === 1 && info.strideWidth === 1

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

let registered = false

/** register the fast Conv2DBackpropFilter and Conv2DBackpropInput for the 'wasm' backend (NHWC); idempotent */
export const register = (): void => {
  if (registered) return
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm')
  if (original === undefined) throw new Error('WasmConvGrad.register: the wasm backend is not loaded (Tfjs.init("wasm") first)')
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as Attrs
      const x = inputs['x']!
      const dy = inputs['dy']!
      const info = infoOf(x.shape as Shape4, a.filterShape!, a)
      const be = backend as tf.KernelBackend
      return stride1(info) ? filterGradStride1(be, x, dy, info) : filterGradIm2col(be, x, dy, info, a.filterShape!)
    },
  })
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm')
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const a = args.attrs as unknown as Attrs
      const dy = args.inputs['dy']!
      const filter = args.inputs['filter']!
      const info = infoOf(a.inputShape!, filter.shape as Shape4, a)
      return stride1(info) ? inputGradStride1(args.backend as tf.KernelBackend, dy, filter, info) : original.kernelFunc(args)
    },
  })
  registered = true
}

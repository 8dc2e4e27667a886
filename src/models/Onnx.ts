/**
 * ONNX networks through onnxruntime-node (an optional peer dependency): a session in a worker thread, called
 * synchronously (synckit: Atomics.wait on the worker's reply), so an ONNX network is a model like any other for the
 * Tfjs interpreter. One `run` per model call with the whole batch (no per-row calls). Without onnxruntime-node
 * installed, loading says how to install it.
 */
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs'
import { createSyncFn } from 'synckit'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

interface Wire {
  readonly data: Float32Array | Int32Array | BigInt64Array
  readonly dims: ReadonlyArray<number>
  readonly type: 'float32' | 'int32' | 'int64'
}

interface SignatureReply {
  readonly inputs: ReadonlyArray<{ readonly name: string; readonly shape: ReadonlyArray<number | string> | null; readonly type: string | null }>
  readonly outputs: ReadonlyArray<string>
}

/** a loaded ONNX network: named call over tfjs tensors, its inputs (name, rank, dtype), dispose */
export interface Loaded {
  readonly call: (inputs: Readonly<Record<string, tf.Tensor>>) => tf.Tensor
  readonly signature: { readonly inputs: ReadonlyArray<{ readonly name: string; readonly rank: number | undefined; readonly dtype: 'float32' | 'int32' }> }
  readonly dispose: () => void
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** throws the install advice when onnxruntime-node is not installed */
export const requireRuntime = (): void => {
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node')
  } catch {
    throw new Error(
      'this model card names an ONNX network, which needs the optional package onnxruntime-node: install it with `npm install onnxruntime-node --onnxruntime-node-install=skip` (the flag skips its GPU download; the CPU runtime ships in the package)',
    )
  }
}

let call: ((req: unknown) => unknown) | undefined
let runs = 0

/** how many times an ONNX network has been run in this process (one per model call: the whole batch at once) */
export const runCount = (): number => runs

/** the synchronous bridge to the worker (one worker for all sessions) */
const bridge = (): ((req: unknown) => unknown) => {
  call ??= createSyncFn(new URL('./onnx-worker.mjs', import.meta.url).pathname, { timeout: 600_000 }) as (req: unknown) => unknown
  return call
}

/** tfjs tensor → wire tensor (int tensors as int64 when the network declares int64) */
const toWire = (t: tf.Tensor, type: string | null): Wire => {
  if (t.dtype === 'int32')
    return type === 'tensor(int64)'
      ? { data: BigInt64Array.from(t.dataSync() as Int32Array, (v) => BigInt(v)), dims: t.shape, type: 'int64' }
      : { data: t.dataSync() as Int32Array, dims: t.shape, type: 'int32' }
  return { data: t.dataSync() as Float32Array, dims: t.shape, type: 'float32' }
}

/** load an .onnx file; `output` names the prediction when the graph has several outputs */
export const load = async (file: string, output?: string): Promise<Loaded> => {
  requireRuntime()
  const run = bridge()
  const sig = run({ op: 'signature', file }) as SignatureReply
  if (output !== undefined && !sig.outputs.includes(output)) throw new Error(`network.output: the ONNX network has no output "${output}"; its outputs are ${sig.outputs.join(', ')}`)
  if (output === undefined && sig.outputs.length !== 1)
    throw new Error(`the ONNX network has ${sig.outputs.length} outputs (${sig.outputs.join(', ')}); name the prediction in the card's network.output`)
  const types = new Map(sig.inputs.map((i) => [i.name, i.type]))
  const inputs = sig.inputs.map((i) => ({ name: i.name, rank: i.shape?.length, dtype: (i.type === 'tensor(int64)' || i.type === 'tensor(int32)' ? 'int32' : 'float32') as 'float32' | 'int32' }))
  return {
    signature: { inputs },
    call: (named) => {
      const wire: Record<string, Wire> = {}
      for (const [k, v] of Object.entries(named)) wire[k] = toWire(v, types.get(k) ?? null)
      runs++
      const r = run({ op: 'run', file, inputs: wire, ...(output === undefined ? {} : { output }) }) as Wire
      const data = r.data instanceof BigInt64Array ? Float32Array.from(r.data, (v) => Number(v)) : r.data
      return tf.tensor(data, [...r.dims], r.type === 'int32' ? 'int32' : 'float32')
    },
    dispose: () => {},
  }
}

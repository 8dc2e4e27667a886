// The onnxruntime-node side of src/models/Onnx.ts: runs in a worker thread (synckit), so the interpreters can call an
// ONNX network synchronously. One session per file, created on first use; tensors cross as typed arrays.
import { runAsWorker } from 'synckit'

const sessions = new Map()
let ort

const sessionOf = async (file) => {
  if (ort === undefined) ort = await import('onnxruntime-node')
  let s = sessions.get(file)
  if (s === undefined) {
    s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' })
    sessions.set(file, s)
  }
  return s
}

runAsWorker(async (req) => {
  const s = await sessionOf(req.file)
  if (req.op === 'signature') {
    const meta = (names) => names.map((name, k) => ({ name, meta: s.inputMetadata?.[k] ?? s.inputMetadata?.[name] }))
    return {
      inputs: meta(s.inputNames).map(({ name, meta }) => ({ name, shape: meta?.shape ?? null, type: meta?.type ?? null })),
      outputs: [...s.outputNames],
    }
  }
  const feeds = {}
  for (const [name, t] of Object.entries(req.inputs)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims)
  const out = await s.run(feeds, req.output === undefined ? undefined : [req.output])
  const name = req.output ?? s.outputNames[0]
  const r = out[name]
  if (r === undefined) throw new Error(`the ONNX network has no output "${name}"; its outputs are ${s.outputNames.join(', ')}`)
  return { data: r.data, dims: [...r.dims], type: r.type }
})

/**
 * Write a tfjs-layers model (model.json + weight shards, the standard format) as an ONNX graph (opset 13), so the
 * same weights run on onnxruntime. Reads the Keras topology and the weight bytes directly (no tfjs needed) and
 * encodes the ModelProto with onnx-proto. Images stay NHWC at the graph's inputs and outputs (as in tfjs) and run
 * NCHW inside (ONNX Conv's layout): a Reshape into an image is followed by a Transpose, a Reshape out of one preceded
 * by its inverse. Covers the layers stepwise's networks use: InputLayer, Dense, Conv2D, AveragePooling2D,
 * MaxPooling2D, UpSampling2D (nearest), GlobalAveragePooling2D, Add, Multiply, Concatenate, Activation, Reshape,
 * Flatten, Dropout (inference: identity), BatchNormalization (inference); anything else is a clear error.
 *
 *   node --import tsx scripts/onnx-export.ts models/mnist/eps/model.json models/mnist/eps.onnx
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto'

const { onnx } = onnxProto

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

interface KerasLayer {
  readonly name: string
  readonly class_name: string
  readonly config: Readonly<Record<string, unknown>>
  readonly inbound_nodes: ReadonlyArray<ReadonlyArray<readonly [string, number, number, unknown]>>
}

interface ModelJson {
  readonly modelTopology: {
    readonly config: {
      readonly layers: ReadonlyArray<KerasLayer>
      readonly input_layers: ReadonlyArray<readonly [string, number, number]>
      readonly output_layers: ReadonlyArray<readonly [string, number, number]>
    }
  }
  readonly weightsManifest: ReadonlyArray<{
    readonly paths: ReadonlyArray<string>
    readonly weights: ReadonlyArray<{ readonly name: string; readonly shape: ReadonlyArray<number>; readonly dtype: string }>
  }>
}

/** a tensor of the graph: its ONNX name and logical shape without the batch (images NHWC, stored NCHW) */
interface Value {
  readonly name: string
  readonly shape: ReadonlyArray<number>
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const isImage = (v: Value): boolean => v.shape.length === 3

/** the graph under construction */
const builder = () => {
  const nodes: OnnxTypes.INodeProto[] = []
  const inits: OnnxTypes.ITensorProto[] = []
  let k = 0
  const fresh = (base: string) => `${base}__${k++}`
  const node = (op: string, inputs: ReadonlyArray<string>, base: string, attrs: Record<string, number | ReadonlyArray<number> | string> = {}): string => {
    const out = fresh(base)
    const attribute = Object.entries(attrs).map(([name, v]) =>
      typeof v === 'string'
        ? { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) }
        : typeof v === 'number'
          ? Number.isInteger(v)
            ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
            : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v }
          : { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...v] },
    )
    nodes.push({ opType: op, input: [...inputs], output: [out], name: out, attribute })
    return out
  }
  const floats = (base: string, dims: ReadonlyArray<number>, data: Float32Array): string => {
    const name = fresh(base)
    inits.push({ name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) })
    return name
  }
  const ints = (base: string, data: ReadonlyArray<number>): string => {
    const name = fresh(base)
    inits.push({ name, dims: [data.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: [...data] })
    return name
  }
  return { nodes, inits, node, floats, ints }
}

type Builder = ReturnType<typeof builder>

/** an activation by name on a value */
const activation = (g: Builder, v: Value, act: unknown, base: string): Value => {
  const a = typeof act === 'string' ? act : 'linear'
  if (a === 'linear') return v
  if (a === 'swish') return { name: g.node('Mul', [v.name, g.node('Sigmoid', [v.name], `${base}_sig`)], base), shape: v.shape }
  const op = ({ relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', elu: 'Elu', softplus: 'Softplus' } as Record<string, string>)[a]
  if (op !== undefined) return { name: g.node(op, [v.name], base), shape: v.shape }
  if (a === 'softmax') {
    if (isImage(v)) throw new Error(`${base}: softmax on an image is not exported`)
    return { name: g.node('Softmax', [v.name], base, { axis: -1 }), shape: v.shape }
  }
  throw new Error(`${base}: activation ${JSON.stringify(act)} is not exported (supported: linear, swish, relu, sigmoid, tanh, elu, softplus, softmax)`)
}

/** NCHW → NHWC-flat order → reshape → (NCHW if the target is an image) */
const reshape = (g: Builder, v: Value, target: ReadonlyArray<number>, base: string): Value => {
  const size = (s: ReadonlyArray<number>) => s.reduce((a, b) => a * b, 1)
  const free = target.indexOf(-1)
  const shape = free < 0 ? target : target.map((d) => (d === -1 ? size(v.shape) / -size(target) : d))
  if (size(shape) !== size(v.shape)) throw new Error(`${base}: cannot reshape [${v.shape.join(', ')}] to [${target.join(', ')}]`)
  const nhwc = isImage(v) ? g.node('Transpose', [v.name], `${base}_nhwc`, { perm: [0, 2, 3, 1] }) : v.name
  const r = g.node('Reshape', [nhwc, g.ints(`${base}_shape`, [-1, ...shape])], base)
  if (shape.length === 3) return { name: g.node('Transpose', [r], `${base}_nchw`, { perm: [0, 3, 1, 2] }), shape }
  if (shape.length !== 1) throw new Error(`${base}: only flat and image (H, W, C) tensors are exported; got a target shape [${shape.join(', ')}]`)
  return { name: r, shape }
}

const pair = (u: unknown, fallback: readonly [number, number]): readonly [number, number] => (Array.isArray(u) ? [Number(u[0]), Number(u[1] ?? u[0])] : typeof u === 'number' ? [u, u] : fallback)

/** out spatial size of TF padding: same ⌈n/s⌉, valid ⌊(n − k)/s⌋ + 1 */
const outSize = (n: number, k: number, s: number, padding: unknown): number => (padding === 'same' ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1)

// -------------------------------------------------------------------------------------------------
// layers
// -------------------------------------------------------------------------------------------------

type Weights = (layer: string, n: number) => ReadonlyArray<{ readonly shape: ReadonlyArray<number>; readonly data: Float32Array }>

const layer = (g: Builder, l: KerasLayer, ins: ReadonlyArray<Value>, w: Weights): Value => {
  const c = l.config
  const x = ins[0]!
  const one = () => {
    if (ins.length !== 1) throw new Error(`${l.name}: expected one input`)
  }
  switch (l.class_name) {
    case 'Dense': {
      one()
      if (isImage(x)) throw new Error(`${l.name}: Dense on an image is not exported (flatten first)`)
      const ws = w(l.name, c['use_bias'] === false ? 1 : 2)
      const units = ws[0]!.shape[1]!
      let y = g.node('MatMul', [x.name, g.floats(`${l.name}_W`, ws[0]!.shape, ws[0]!.data)], `${l.name}_mm`)
      if (ws[1] !== undefined) y = g.node('Add', [y, g.floats(`${l.name}_b`, [units], ws[1].data)], `${l.name}_b`)
      return activation(g, { name: y, shape: [units] }, c['activation'], l.name)
    }
    case 'Conv2D': {
      one()
      if (!isImage(x)) throw new Error(`${l.name}: Conv2D needs an image input`)
      const [kh, kw, cin, cout] = w(l.name, 0)[0]?.shape ?? []
      const ws = w(l.name, c['use_bias'] === false ? 1 : 2)
      const [sh, sw] = pair(c['strides'], [1, 1])
      const [dh, dw] = pair(c['dilation_rate'], [1, 1])
      if (dh !== 1 || dw !== 1) throw new Error(`${l.name}: dilated convolutions are not exported`)
      // [kh, kw, cin, cout] → [cout, cin, kh, kw]
      const k = ws[0]!.data
      const t = new Float32Array(k.length)
      for (let a = 0; a < kh!; a++)
        for (let b = 0; b < kw!; b++) for (let i = 0; i < cin!; i++) for (let o = 0; o < cout!; o++) t[((o * cin! + i) * kh! + a) * kw! + b] = k[((a * kw! + b) * cin! + i) * cout! + o]!
      const inputs = [x.name, g.floats(`${l.name}_W`, [cout!, cin!, kh!, kw!], t), ...(ws[1] === undefined ? [] : [g.floats(`${l.name}_b`, [cout!], ws[1].data)])]
      const y = g.node('Conv', inputs, l.name, { kernel_shape: [kh!, kw!], strides: [sh, sw], auto_pad: c['padding'] === 'same' ? 'SAME_UPPER' : 'VALID' })
      return activation(g, { name: y, shape: [outSize(x.shape[0]!, kh!, sh, c['padding']), outSize(x.shape[1]!, kw!, sw, c['padding']), cout!] }, c['activation'], `${l.name}_act`)
    }
    case 'AveragePooling2D':
    case 'MaxPooling2D': {
      one()
      const [ph, pw] = pair(c['pool_size'], [2, 2])
      const [sh, sw] = pair(c['strides'] ?? c['pool_size'], [ph, pw])
      if (c['padding'] === 'same') throw new Error(`${l.name}: 'same' pooling is not exported`)
      const op = l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool'
      return { name: g.node(op, [x.name], l.name, { kernel_shape: [ph, pw], strides: [sh, sw] }), shape: [outSize(x.shape[0]!, ph, sh, 'valid'), outSize(x.shape[1]!, pw, sw, 'valid'), x.shape[2]!] }
    }
    case 'GlobalAveragePooling2D': {
      one()
      const p = g.node('GlobalAveragePool', [x.name], l.name)
      return { name: g.node('Flatten', [p], `${l.name}_flat`, { axis: 1 }), shape: [x.shape[2]!] }
    }
    case 'UpSampling2D': {
      one()
      const [a, b] = pair(c['size'], [2, 2])
      if (c['interpolation'] !== undefined && c['interpolation'] !== 'nearest') throw new Error(`${l.name}: only nearest upsampling is exported`)
      const scales = g.floats(`${l.name}_scales`, [4], Float32Array.from([1, 1, a, b]))
      const y = g.node('Resize', [x.name, '', scales], l.name, { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })
      return { name: y, shape: [x.shape[0]! * a, x.shape[1]! * b, x.shape[2]!] }
    }
    case 'Add':
    case 'Multiply': {
      const op = l.class_name === 'Add' ? 'Add' : 'Mul'
      const shape = ins.reduce<ReadonlyArray<number>>((s, v) => (v.shape.reduce((a, d) => a * d, 1) > s.reduce((a, d) => a * d, 1) ? v.shape : s), x.shape)
      return { name: ins.slice(1).reduce((acc, v, i) => g.node(op, [acc, v.name], `${l.name}_${i}`), x.name), shape }
    }
    case 'Concatenate': {
      const axis = Number(c['axis'] ?? -1)
      if (axis !== -1 && axis !== x.shape.length) throw new Error(`${l.name}: only concatenation on the last (channel) axis is exported`)
      const last = ins.reduce((s, v) => s + v.shape[v.shape.length - 1]!, 0)
      return {
        name: g.node(
          'Concat',
          ins.map((v) => v.name),
          l.name,
          { axis: 1 },
        ),
        shape: [...x.shape.slice(0, -1), last],
      }
    }
    case 'Activation':
      one()
      return activation(g, x, c['activation'], l.name)
    case 'Reshape':
      one()
      return reshape(g, x, c['target_shape'] as ReadonlyArray<number>, l.name)
    case 'Flatten':
      one()
      return reshape(g, x, [-1], l.name)
    case 'Dropout':
      one()
      return x
    case 'BatchNormalization': {
      one()
      const ws = w(l.name, 4) // gamma, beta, moving mean, moving variance (tfjs order with scale and center)
      if (c['scale'] === false || c['center'] === false) throw new Error(`${l.name}: BatchNormalization without scale or center is not exported`)
      const C = ws[0]!.shape[0]!
      const ins4 = ws.map((v, i) => g.floats(`${l.name}_${i}`, [C], v.data))
      if (isImage(x)) return { name: g.node('BatchNormalization', [x.name, ...ins4], l.name, { epsilon: Number(c['epsilon'] ?? 1e-3) }), shape: x.shape }
      // flat: (x − m)/√(v + ε)·γ + β as Mul/Add with folded constants
      const [gm, bt, mn, vr] = ws.map((v) => v.data) as [Float32Array, Float32Array, Float32Array, Float32Array]
      const eps = Number(c['epsilon'] ?? 1e-3)
      const s = Float32Array.from(gm, (v, i) => v / Math.sqrt(vr[i]! + eps))
      const o = Float32Array.from(bt, (v, i) => v - mn[i]! * s[i]!)
      return { name: g.node('Add', [g.node('Mul', [x.name, g.floats(`${l.name}_s`, [C], s)], `${l.name}_mul`), g.floats(`${l.name}_o`, [C], o)], l.name), shape: x.shape }
    }
    default:
      throw new Error(`${l.name}: layer ${l.class_name} is not exported`)
  }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the ONNX bytes of a tfjs-layers model (model.json parsed, weight shards concatenated in manifest order) */
export const fromLayers = (json: ModelJson, weights: ArrayBuffer): Uint8Array => {
  const specs = json.weightsManifest.flatMap((g) => g.weights)
  let off = 0
  const byName = new Map<string, { shape: ReadonlyArray<number>; data: Float32Array }>()
  for (const s of specs) {
    if (s.dtype !== 'float32') throw new Error(`weight ${s.name}: dtype ${s.dtype} is not exported (float32 only)`)
    const n = s.shape.reduce((a, b) => a * b, 1)
    byName.set(s.name, { shape: s.shape, data: new Float32Array(weights.slice(off, off + 4 * n)) })
    off += 4 * n
  }
  const order = specs.map((s) => s.name)
  const w: Weights = (layerName, n) => {
    const mine = order.filter((nm) => nm.startsWith(`${layerName}/`))
    if (n > 0 && mine.length < n) throw new Error(`${layerName}: expected ${n} weights, the manifest has ${mine.length}`)
    return mine.map((nm) => byName.get(nm)!)
  }
  const g = builder()
  const values = new Map<string, Value>()
  const top = json.modelTopology.config
  const graphInputs: OnnxTypes.IValueInfoProto[] = []
  for (const l of top.layers) {
    if (l.class_name === 'InputLayer') {
      const shape = ((l.config['batch_input_shape'] ?? l.config['batchInputShape']) as ReadonlyArray<number | null>).slice(1) as number[]
      graphInputs.push({ name: l.name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'B' }, ...shape.map((d) => ({ dimValue: d }))] } } } })
      const v: Value = { name: l.name, shape }
      values.set(l.name, shape.length === 3 ? { name: g.node('Transpose', [l.name], `${l.name}_nchw`, { perm: [0, 3, 1, 2] }), shape } : v)
      continue
    }
    if (l.inbound_nodes.length !== 1) throw new Error(`${l.name}: a layer applied ${l.inbound_nodes.length} times is not exported`)
    const ins = l.inbound_nodes[0]!.map(([src]) => {
      const v = values.get(src)
      if (v === undefined) throw new Error(`${l.name}: input ${src} is not computed before it (layers out of order)`)
      return v
    })
    values.set(l.name, layer(g, l, ins, w))
  }
  const outputs = top.output_layers.map(([nm]) => {
    const v = values.get(nm)!
    const name = isImage(v) ? g.node('Transpose', [v.name], `${nm}_nhwc`, { perm: [0, 2, 3, 1] }) : v.name
    const final = g.node('Identity', [name], nm)
    return { name: final, shape: v.shape, layer: nm }
  })
  // name the graph outputs after the layers (Identity nodes carry a fresh suffix: rename to the layer's name)
  for (const o of outputs) {
    const n = g.nodes.find((x) => x.output?.[0] === o.name)!
    n.output = [o.layer]
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'stepwise scripts/onnx-export.ts',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'stepwise_export',
      node: g.nodes,
      initializer: g.inits,
      input: graphInputs,
      output: outputs.map((o) => ({
        name: o.layer,
        type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'B' }, ...o.shape.map((d) => ({ dimValue: d }))] } } },
      })),
    },
  })
  return onnx.ModelProto.encode(model).finish()
}

/** read model.json and its shards from disk */
export const fromFile = (modelJson: string): Uint8Array => {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as ModelJson
  const parts = json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.resolve(path.dirname(modelJson), p))))
  const all = Buffer.concat(parts)
  return fromLayers(json, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer)
}

if (process.argv[1] === import.meta.filename) {
  const [src, dst] = process.argv.slice(2)
  if (src === undefined || dst === undefined) {
    console.error('usage: node --import tsx scripts/onnx-export.ts MODEL.json OUT.onnx')
    process.exit(2)
  }
  const bytes = fromFile(src)
  const tmp = `${dst}.tmp-${process.pid}`
  fs.writeFileSync(tmp, bytes)
  fs.renameSync(tmp, dst)
  console.log(`wrote ${dst} (${(bytes.length / 1024).toFixed(0)} KiB)`)
}

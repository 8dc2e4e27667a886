/**
 * Model cards (`stepwise-model/v1`): what stepwise needs to sample a user's trained network. The card names the
 * network file and its format (tfjs-layers, tfjs-graph, onnx), its input/output names, the per-sample shape, what it
 * predicts (eps / x0 / v / flow), how it reads time, the noise schedule it was trained under (a stepwise schedule spec
 * like a problem file's `schedule`, or a diffusers scheduler_config.json), optional class conditioning (with the null
 * label classifier-free guidance uses) and the data range. Decoded with io-ts at the boundary: every issue names its
 * JSON path, what was found and the fix. Paths in a card are relative to the card's folder.
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import * as U from '../core/Codec.ts'
import type * as NS from '../core/NoiseSchedule.ts'
import type * as P from '../core/Parameterization.ts'
import * as Diffusers from './Diffusers.ts'
import * as Problem from './Problem.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the card's format tag */
export const FORMAT = 'stepwise-model/v1'

/** network file formats */
export const NETWORK_FORMATS = ['tfjs-layers', 'tfjs-graph', 'onnx'] as const

const TIME_NAMES = ['continuous', 'scaled999', 'sigmaBar', 'diffusers'] as const

/** how the network reads time: a named convention, {timestep: N} (integer index round(N·t − 1)), {discrete: N} (1000·(t − 1/N)), {scaled: k} (k·t) */
const TimeC = t.union([
  U.oneOf(TIME_NAMES),
  U.closed('{"timestep": N}', { timestep: U.positiveInt }, {}),
  U.closed('{"discrete": N}', { discrete: U.positiveInt }, {}),
  U.closed('{"scaled": k}', { scaled: U.positiveNumber }, {}),
])

const NetworkC = U.closed(
  'network',
  { file: U.string, format: U.oneOf(NETWORK_FORMATS) },
  {
    /** input names: x (the noisy sample), t (time), label (class); default: the network's inputs in this order */
    inputs: U.closed('network.inputs', { x: U.string }, { t: U.string, label: U.string }),
    /** the output's name (ONNX / graph models with several outputs) */
    output: U.string,
    /** the layout of x the network takes: NHWC (default, tfjs) or NCHW (most ONNX exports) */
    layout: U.oneOf(['NHWC', 'NCHW'] as const),
    /**
     * the network takes an embedding of τ instead of τ: sinusoidal [sin(τ·f_k), cos(τ·f_k)], f_k = P^(−k/(dim/2)),
     * k < dim/2 (P = maxPeriod, default 10000)
     */
    timeEmbedding: U.closed('network.timeEmbedding', { kind: t.literal('sinusoidal'), dim: U.positiveInt }, { maxPeriod: U.positiveNumber }),
  },
)

const ScheduleC = t.union([Problem.ScheduleC, U.closed('schedule', { diffusers: U.string }, {})])

const ConditioningC = U.closed(
  'conditioning',
  { classes: U.positiveInt },
  {
    /** the label that means "no condition" (classifier-free guidance); default: classes (one past the last class) */
    null: t.number,
    /** names of the classes, for messages and plots */
    names: t.array(t.string),
    /** how the label reaches the network: its index (default) or a one-hot row of classes + 1 values (the null label included) */
    encoding: U.oneOf(['index', 'one-hot'] as const),
  },
)

const CardC = U.closed(
  'a stepwise-model/v1 card',
  {
    format: t.literal(FORMAT),
    network: NetworkC,
    shape: t.array(U.positiveInt),
    parameterization: U.oneOf(['eps', 'x0', 'v', 'flow'] as const),
    time: TimeC,
    schedule: ScheduleC,
  },
  {
    name: U.string,
    description: U.string,
    conditioning: ConditioningC,
    /** the data range [lo, hi] of a sample (images: [-1, 1]) */
    data: U.closed('data', { range: t.tuple([t.number, t.number]) }, {}),
    /** a classifier for metrics (FID features, accuracy): a tfjs-layers model with a named feature layer */
    classifier: U.closed('classifier', { file: U.string }, { features: U.string }),
    /** the FID reference: a stepwise-fid-stats/v1 file (feature mean and covariance of held-out real data) */
    reference: U.string,
  },
)

/** a decoded card, with its folder (network paths resolve against it) */
export type Card = t.TypeOf<typeof CardC> & { readonly dir: string }

/** the time convention of a card */
export type Time = Card['time']

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

const Card_nullOf = (c: t.TypeOf<typeof CardC>): number | undefined => (c.conditioning === undefined ? undefined : (c.conditioning.null ?? c.conditioning.classes))

/** cross-field checks a codec cannot state: null label outside the classes, a range lo < hi, a non-empty shape */
const checks = (c: t.TypeOf<typeof CardC>): ReadonlyArray<U.Issue> => [
  ...('diffusers' in c.schedule
    ? []
    : Problem.checkSchedule(c.schedule).map((i) => U.issue(i.path === '' || i.path === '(root)' ? 'schedule' : `schedule.${i.path.replace(/^schedule\.?/, '')}`, i.message))),
  ...U.when(c.shape.length === 0, 'shape', () => 'expected the per-sample shape, e.g. [28, 28, 1]; got []'),
  ...U.when(c.conditioning !== undefined && c.conditioning.null !== undefined && c.conditioning.null >= 0 && c.conditioning.null < c.conditioning.classes, 'conditioning.null', () => {
    const cc = c.conditioning!
    return `the null label ${cc.null} is one of the ${cc.classes} classes (0 … ${cc.classes - 1}); use ${cc.classes} (one past the last class) or the label your network was trained with for "no condition"`
  }),
  ...U.when(c.conditioning !== undefined && c.conditioning.names !== undefined && c.conditioning.names.length !== c.conditioning.classes, 'conditioning.names', () => {
    return `${c.conditioning!.names!.length} names for ${c.conditioning!.classes} classes; give one name per class`
  }),
  ...U.when(
    c.network.timeEmbedding !== undefined && c.network.timeEmbedding.dim % 2 !== 0,
    'network.timeEmbedding.dim',
    () => `a sinusoidal embedding has an even width (sin and cos halves); got ${c.network.timeEmbedding!.dim}`,
  ),
  ...U.when(
    c.conditioning?.encoding === 'one-hot' && Card_nullOf(c) !== c.conditioning.classes,
    'conditioning.null',
    () => 'a one-hot label has classes + 1 columns, the last one the null label: set "null" to the number of classes',
  ),
  ...U.when(c.data !== undefined && !(c.data.range[0] < c.data.range[1]), 'data.range', () => `expected [lo, hi] with lo < hi; got ${JSON.stringify(c.data!.range)}`),
  ...U.when(
    c.network.inputs?.label !== undefined && c.conditioning === undefined,
    'network.inputs.label',
    () => 'a label input needs "conditioning": {"classes": N}; add it or remove the label input',
  ),
]

/** decode a parsed card; `dir` is the folder its paths are relative to */
export const decode = (u: unknown, dir: string): E.Either<ReadonlyArray<U.Issue>, Card> => {
  const r = E.mapLeft(U.issuesOf)(CardC.decode(u))
  if (E.isLeft(r)) return r
  const issues = checks(r.right)
  return issues.length > 0 ? E.left(issues) : E.right({ ...r.right, dir })
}

/** read, parse and decode a card file; every problem (missing file, bad JSON, bad field, missing network file) as issues */
export const read = (file: string): E.Either<ReadonlyArray<U.Issue>, Card> => {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    return E.left([U.issue('(file)', `cannot read the model card ${file}: ${e instanceof Error ? e.message : String(e)}`)])
  }
  let u: unknown
  try {
    u = JSON.parse(text)
  } catch (e) {
    return E.left([U.issue('(root)', `${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`)])
  }
  const c = decode(u, path.dirname(path.resolve(file)))
  if (E.isLeft(c)) return c
  const missing = [
    ...U.when(!fs.existsSync(networkFile(c.right)), 'network.file', () => `${networkFile(c.right)} does not exist; the path is relative to the card's folder ${c.right.dir}`),
    ...U.when(
      c.right.classifier !== undefined && !fs.existsSync(path.resolve(c.right.dir, c.right.classifier.file)),
      'classifier.file',
      () => `${path.resolve(c.right.dir, c.right.classifier!.file)} does not exist`,
    ),
    ...U.when(
      'diffusers' in c.right.schedule && !fs.existsSync(path.resolve(c.right.dir, (c.right.schedule as { diffusers: string }).diffusers)),
      'schedule.diffusers',
      () => 'the scheduler_config.json it names does not exist',
    ),
  ]
  return missing.length > 0 ? E.left(missing) : c
}

/** read a card or throw an error listing its issues (path: message) */
export const readOrThrow = (file: string): Card => {
  const c = read(file)
  if (E.isLeft(c)) throw new Error(`${file}: not a valid model card\n${U.formatIssues(c.left)}`)
  return c.right
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the network file's absolute path */
export const networkFile = (c: Card): string => path.resolve(c.dir, c.network.file)

/** D = ∏ shape: the width of a flattened sample */
export const width = (c: Card): number => c.shape.reduce((a, b) => a * b, 1)

/** the null label (classifier-free guidance's "no condition"), undefined without conditioning */
export const nullLabel = (c: Card): number | undefined => (c.conditioning === undefined ? undefined : (c.conditioning.null ?? c.conditioning.classes))

/** the noise schedule the network was trained under, over [t_0, T] */
export const noiseSchedule = (c: Card): NS.NoiseSchedule => {
  const s = c.schedule
  if (!('diffusers' in s)) return Problem.noiseScheduleOf(s)
  const text = fs.readFileSync(path.resolve(c.dir, s.diffusers), 'utf8')
  const cv = Diffusers.fromText(text, { nfe: 10 })
  if (E.isLeft(cv)) throw new Error(`schedule.diffusers (${s.diffusers}): ${U.formatIssues(cv.left)}`)
  return cv.right.noiseSchedule
}

/** the network's output parameterization */
export const parameterization = (c: Card): P.Parameterization => c.parameterization

/** the files a card's identity rests on: the card, the network (model.json and its weight shards, or the .onnx), the scheduler config */
const filesOf = (c: Card): ReadonlyArray<string> => {
  const net = networkFile(c)
  const shards = (() => {
    if (!net.endsWith('.json')) return []
    try {
      const j = JSON.parse(fs.readFileSync(net, 'utf8')) as { weightsManifest?: ReadonlyArray<{ paths: ReadonlyArray<string> }> }
      return (j.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => path.resolve(path.dirname(net), p)))
    } catch {
      return []
    }
  })()
  return [net, ...shards, ...('diffusers' in c.schedule ? [path.resolve(c.dir, c.schedule.diffusers)] : [])]
}

/** a content hash of the model: sha256 over the card's fields (without its folder) and the bytes of every file it rests on */
export const fingerprint = (c: Card): string => {
  const h = createHash('sha256')
  const { dir: _dir, ...fields } = c
  h.update(JSON.stringify(fields))
  for (const f of filesOf(c)) h.update(fs.readFileSync(f))
  return h.digest('hex').slice(0, 32)
}

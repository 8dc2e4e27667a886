/**
 * The search checkpoint `stepwise-search-checkpoint/v1`: the whole search state (island populations, archive,
 * evaluated set, refinement counts, RNG state, best, best-so-far curve) and a fingerprint of what
 * decides the result (problem, budget, seed, strategy, batch, space, settings), written atomically
 * (temp file + rename). Loading decodes with io-ts, checks every candidate is a fixed point of
 * `Space.repair` and refuses a checkpoint of another search, naming what differs.
 */
import * as fs from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import * as U from '../core/Codec.ts'
import { decodeOrThrow } from '../core/Codec.ts'
import { writeAtomic } from '../core/Files.ts'
import * as Reg from '../steps/Registry.ts'
import type { Relaxation } from '../core/Rule.ts'
import type * as Ev from './Evolution.ts'
import * as Sp from './Space.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** the format tag */
export const FORMAT = 'stepwise-search-checkpoint/v1'

/** what must match for a resume: one entry per setting that changes the result */
export type Fingerprint = Readonly<Record<string, string | number | boolean>>

// -------------------------------------------------------------------------------------------------
// codecs
// -------------------------------------------------------------------------------------------------

const RelaxationC: t.Type<Relaxation, unknown, unknown> = t.union([
  t.keyof({ none: null, 'dpmsolver-2': null, 'unipc-bh1': null, '0.5exp': null, '-0.5exp': null }),
  t.readonly(t.type({ linear: t.number })),
])

const CorrectorC = t.union([
  t.readonly(t.type({ mode: t.literal('none') })),
  t.readonly(t.type({ mode: t.keyof({ pseudo: null, reeval: null }), order: t.union([t.number, t.literal('default')]), relaxation: RelaxationC })),
])

const GeneC = t.readonly(
  t.intersection([
    t.partial({ carried: Reg.carriedCodec((name, required, optional) => U.closed(name, required, optional)) }),
    t.type({
      prediction: t.keyof({ noise: null, data: null }),
      order: t.number,
      start: t.number,
      nodes: t.union([t.literal('default'), t.readonlyArray(t.number)]),
      basis: t.keyof({ lambda: null, t: null, rho: null }),
      relaxation: RelaxationC,
      corrector: CorrectorC,
    }),
  ]),
)

const CandidateC = t.readonly(
  t.type({
    nfe: t.number,
    firstStep: t.keyof({ evaluate: null, zero_x0: null }),
    denoiseToZero: t.boolean,
    gaps: t.readonlyArray(t.number),
    steps: t.readonlyArray(GeneC),
  }),
)

/** a score in JSON: a number, or null for +∞ (JSON has no infinity) */
const ScoreC = t.union([t.number, t.null])
const ScoredC = t.type({ candidate: CandidateC, score: ScoreC })

const FileC = t.type({
  format: t.literal(FORMAT),
  fingerprint: t.record(t.string, t.union([t.string, t.number, t.boolean])),
  state: t.type({
    generation: t.number,
    rng: t.number,
    evals: t.number,
    islands: t.array(t.array(ScoredC)),
    archive: t.array(ScoredC),
    seen: t.array(t.string),
    refined: t.array(t.tuple([t.string, t.number])),
    best: ScoredC,
    trace: t.array(t.type({ generation: t.number, evals: t.number, best: ScoreC })),
    tau: t.union([t.number, t.null]),
    elapsed: t.number,
  }),
})

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const toJson = (v: number): number | null => (Number.isFinite(v) ? v : null)
const fromJson = (v: number | null): number => v ?? Number.POSITIVE_INFINITY
const scoredOut = (x: Ev.Scored) => ({ candidate: x.candidate, score: toJson(x.score) })

/** the first fingerprint entry that differs, as text, or undefined */
export const difference = (want: Fingerprint, got: Fingerprint): string | undefined => {
  const keys = [...new Set([...Object.keys(want), ...Object.keys(got)])]
  const k = keys.find((key) => want[key] !== got[key])
  return k === undefined ? undefined : `${k} is ${JSON.stringify(got[k])} in the checkpoint but ${JSON.stringify(want[k])} now`
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the checkpoint's JSON text */
export const encode = (fp: Fingerprint, s: Ev.State): string =>
  JSON.stringify({
    format: FORMAT,
    fingerprint: fp,
    state: {
      generation: s.generation,
      rng: s.rng,
      evals: s.evals,
      islands: s.islands.map((pop) => pop.map(scoredOut)),
      archive: s.archive.map(scoredOut),
      seen: [...s.seen],
      refined: [...s.refined],
      best: scoredOut(s.best),
      trace: s.trace.map((p) => ({ ...p, best: toJson(p.best) })),
      tau: s.tau ?? null,
      elapsed: s.elapsed,
    },
  })

/** write the checkpoint atomically */
export const save = (file: string, fp: Fingerprint, s: Ev.State): void => writeAtomic(file, encode(fp, s))

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** decode a checkpoint's JSON for `fp` in space `sp`: the state, or why it cannot be resumed */
export const decode =
  (sp: Sp.Space, fp: Fingerprint) =>
  (u: unknown): E.Either<string, Ev.State> => {
    let f: t.TypeOf<typeof FileC>
    try {
      f = decodeOrThrow(FileC, 'search checkpoint')(u)
    } catch (e) {
      return E.left(e instanceof Error ? e.message : String(e))
    }
    const diff = difference(fp, f.fingerprint)
    if (diff !== undefined) return E.left(`the checkpoint belongs to another search: ${diff}; delete it or pass another --checkpoint`)
    const scored = (x: t.TypeOf<typeof ScoredC>): Ev.Scored => ({ candidate: x.candidate, score: fromJson(x.score) })
    const s = f.state
    const all = [...s.islands.flat(), ...s.archive, s.best]
    const broken = all.findIndex((x) => Sp.key(Sp.repair(sp)(x.candidate)) !== Sp.key(x.candidate))
    if (broken >= 0) return E.left(`candidate ${broken} of the checkpoint is not a valid point of the search space (edited or corrupt file?); delete it to start afresh`)
    return E.right({
      generation: s.generation,
      rng: s.rng,
      evals: s.evals,
      islands: s.islands.map((pop) => pop.map(scored)),
      archive: s.archive.map(scored),
      seen: new Set(s.seen),
      refined: new Map(s.refined),
      best: scored(s.best),
      trace: s.trace.map((p) => ({ ...p, best: fromJson(p.best) })),
      tau: s.tau ?? undefined,
      elapsed: s.elapsed,
    })
  }

/** read a checkpoint file: undefined if it does not exist, else its state or a thrown error naming the file */
export const load = (file: string, sp: Sp.Space, fp: Fingerprint): Ev.State | undefined => {
  if (!fs.existsSync(file)) return undefined
  let u: unknown
  try {
    u = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (e) {
    throw new Error(`checkpoint ${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}); delete it to start afresh`)
  }
  const d = decode(sp, fp)(u)
  if (E.isLeft(d)) throw new Error(`checkpoint ${file}: ${d.left}`)
  return d.right
}

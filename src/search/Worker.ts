/**
 * The body of an evaluation worker thread (started by Pool.ts). Protocol, one message at a time:
 *   {type: 'init', problem, batch}            → {type: 'ready'}
 *   {type: 'eval', id, candidates}             → {type: 'scores', id, scores}   (scores[i] = Objective.score of candidates[i])
 * Scores are pure functions of (problem, batch, candidate), so which worker evaluates what never
 * changes a result.
 */
import { parentPort } from 'node:worker_threads'
import * as Golden from '../interop/Golden.ts'
import * as O from './Objective.ts'
import * as Sp from './Space.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a message to a worker */
export type Request =
  { readonly type: 'init'; readonly problem: Golden.ProblemFile; readonly batch: O.Batch } | { readonly type: 'eval'; readonly id: number; readonly candidates: ReadonlyArray<Sp.Candidate> }

/** a message from a worker */
export type Reply =
  { readonly type: 'ready' } | { readonly type: 'scores'; readonly id: number; readonly scores: ReadonlyArray<number> } | { readonly type: 'error'; readonly id: number; readonly message: string }

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the scoring function of a problem and batch: candidate ↦ Objective.score of its schedule */
export const scorer = (problem: Golden.ProblemFile, batch: O.Batch): ((c: Sp.Candidate) => number) => {
  const ns = Golden.noiseSchedule(problem)
  const score = O.score(problem, batch)
  return (c) => score(Sp.toSchedule(ns)(c))
}

// -------------------------------------------------------------------------------------------------
// main (worker thread only)
// -------------------------------------------------------------------------------------------------

const port = parentPort
if (port !== null) {
  let score: ((c: Sp.Candidate) => number) | undefined
  port.on('message', (m: Request) => {
    if (m.type === 'init') {
      score = scorer(m.problem, m.batch)
      port.postMessage({ type: 'ready' } satisfies Reply)
      return
    }
    if (score === undefined) {
      port.postMessage({ type: 'error', id: m.id, message: 'worker not initialised' } satisfies Reply)
      return
    }
    const f = score
    port.postMessage({ type: 'scores', id: m.id, scores: m.candidates.map((c) => f(c)) } satisfies Reply)
  })
}

/**
 * Evaluation of candidates, inline or spread over worker threads. A batch is cut into contiguous
 * chunks, one per worker, and the scores are concatenated in input order: since a score is a pure
 * function of the candidate, results are identical for any number of threads.
 */
import { Worker } from 'node:worker_threads'
import type * as Golden from '../interop/Golden.ts'
import type * as O from './Objective.ts'
import type * as Sp from './Space.ts'
import { scorer, type Reply, type Request } from './Worker.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** scores candidates (in order); `close` stops the threads */
export interface Evaluator {
  readonly threads: number
  readonly evaluate: (cs: ReadonlyArray<Sp.Candidate>) => Promise<ReadonlyArray<number>>
  readonly close: () => Promise<void>
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/**
 * a worker running Worker.ts under tsx: Node 20 cannot start a .ts entry with execArgv ['--import', 'tsx']
 * (ERR_UNKNOWN_FILE_EXTENSION), so a one-line bootstrap registers tsx's loader and imports the entry
 */
const spawn = (): Worker => {
  const api = import.meta.resolve('tsx/esm/api')
  const entry = new URL('./Worker.ts', import.meta.url).href
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}) })`, { eval: true })
}

/** [0, k), [k, 2k), … : contiguous chunks of a list for `parts` workers (empty chunks dropped) */
export const chunks = <A>(xs: ReadonlyArray<A>, parts: number): ReadonlyArray<ReadonlyArray<A>> => {
  const k = Math.ceil(xs.length / Math.max(1, parts))
  return Array.from({ length: Math.max(1, parts) }, (_, j) => xs.slice(j * k, (j + 1) * k)).filter((c) => c.length > 0)
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** evaluate in this thread */
export const inline = (problem: Golden.ProblemFile, batch: O.Batch): Evaluator => {
  const score = scorer(problem, batch)
  return { threads: 0, evaluate: async (cs) => cs.map(score), close: async () => {} }
}

/** `threads` worker threads (≥ 1), each initialised with the problem and the batch */
export const pool = async (problem: Golden.ProblemFile, batch: O.Batch, threads: number): Promise<Evaluator> => {
  const workers = Array.from({ length: threads }, spawn)
  const pending = new Map<number, { resolve: (s: ReadonlyArray<number>) => void; reject: (e: Error) => void }>()
  let failure: Error | undefined
  const fail = (e: Error) => {
    failure = e
    for (const p of pending.values()) p.reject(e)
    pending.clear()
  }
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const onReady = (m: Reply) => {
            if (m.type === 'ready') {
              w.off('message', onReady)
              resolve()
            }
          }
          w.on('message', onReady)
          w.once('error', reject)
          w.postMessage({ type: 'init', problem, batch } satisfies Request)
        }),
    ),
  )
  workers.forEach((w) => {
    w.on('message', (m: Reply) => {
      if (m.type === 'ready') return
      const p = pending.get(m.id)
      pending.delete(m.id)
      if (m.type === 'scores') p?.resolve(m.scores)
      else p?.reject(new Error(`evaluation worker: ${m.message}`))
    })
    w.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))))
  })
  let nextId = 0
  const send = (w: Worker, candidates: ReadonlyArray<Sp.Candidate>) =>
    new Promise<ReadonlyArray<number>>((resolve, reject) => {
      if (failure !== undefined) return reject(failure)
      const id = nextId++
      pending.set(id, { resolve, reject })
      w.postMessage({ type: 'eval', id, candidates } satisfies Request)
    })
  return {
    threads,
    evaluate: async (cs) => (await Promise.all(chunks(cs, threads).map((c, j) => send(workers[j]!, c)))).flat(),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()))
    },
  }
}

/** `threads` = 0 or 1: inline; more: a pool */
export const evaluator = async (problem: Golden.ProblemFile, batch: O.Batch, threads: number): Promise<Evaluator> => (threads <= 1 ? inline(problem, batch) : pool(problem, batch, threads))

/**
 * Every schedule document the CLI builds (named solvers, diffusers conversions, golden runs, searched
 * schedules) passes the same codec checks as `stepwise validate` before it is used or written.
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as S from '../schedule/SolverSchedule.ts'
import * as Codec from '../schedule/Codec.ts'

/** at most this many issues are listed in a message (the rest are counted) */
export const SHOWN = 8

/** the issues as lines, the first `SHOWN` of them and a count of the others */
export const formatSome = (issues: ReadonlyArray<Codec.Issue>): string => [Codec.format(issues.slice(0, SHOWN)), ...(issues.length > SHOWN ? [`… and ${issues.length - SHOWN} more`] : [])].join('\n')

/** the issues of a built document: what `validate` would say about its JSON, [] when it is valid */
export const issues = (doc: S.SolverSchedule): ReadonlyArray<Codec.Issue> => {
  const d = Codec.decode(Codec.encode(doc))
  return E.isLeft(d) ? d.left : []
}

/** the document when `validate` accepts it, else throw naming `what` and the issues */
export const checked = (doc: S.SolverSchedule, what: string): S.SolverSchedule => {
  const is = issues(doc)
  if (is.length > 0) throw new Error(`${what} is not a valid schedule document (${is.length} issue${is.length === 1 ? '' : 's'}):\n${formatSome(is)}`)
  return doc
}

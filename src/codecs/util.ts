/**
 * io-ts helpers: errors as values with a JSON path and a fix, and a closed-struct codec that rejects
 * unknown keys (io-ts `exact` only strips them).
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a decoding problem: where (JSON path like `steps[0].order`) and what to do */
export interface Issue {
  readonly path: string
  readonly message: string
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** `a.b[0].c` from an io-ts context */
export const pathOf = (c: t.Context): string =>
  c
    .slice(1)
    .filter((e, i, arr) => !(i > 0 && /^\d+$/.test(e.key) && arr[i - 1]!.type instanceof t.UnionType) && e.key !== '')
    .reduce((acc, e) => (/^\d+$/.test(e.key) ? `${acc}[${e.key}]` : acc === '' ? e.key : `${acc}.${e.key}`), '')

const show = (u: unknown): string => {
  const s = JSON.stringify(u)
  return s === undefined ? String(u) : s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/** io-ts errors as issues, deduplicated per path (unions report every branch) */
export const issuesOf = (errors: t.Errors): ReadonlyArray<Issue> => {
  const byPath = new Map<string, Issue>()
  for (const e of errors) {
    const path = pathOf(e.context) || '(root)'
    const last = e.context[e.context.length - 1]
    const expected = last?.type.name ?? 'value'
    const message = e.message ?? (e.value === undefined ? `missing; expected ${expected}` : `got ${show(e.value)}; expected ${expected}`)
    const prev = byPath.get(path)
    if (prev === undefined) byPath.set(path, { path, message })
  }
  return [...byPath.values()]
}

/** one line per issue: `path: message` */
export const formatIssues = (issues: ReadonlyArray<Issue>): string => issues.map((i) => `${i.path}: ${i.message}`).join('\n')

/** decode or throw an Error listing every issue with its path */
export const decodeOrThrow = <A, O>(codec: t.Type<A, O, unknown>, what: string) => (u: unknown): A =>
  pipe(
    codec.decode(u),
    E.getOrElseW((errs) => {
      throw new Error(`invalid ${what}:\n${formatIssues(issuesOf(errs))}`)
    }),
  )

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a struct with required and optional props that rejects unknown keys, naming them and the allowed ones */
export const closed = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) => {
  const base = t.intersection([t.type(required), t.partial(optional)])
  const allowed = [...Object.keys(required), ...Object.keys(optional)]
  return new t.Type<t.TypeOf<typeof base>, t.OutputOf<typeof base>, unknown>(
    name,
    (u): u is t.TypeOf<typeof base> => base.is(u) && Object.keys(u as object).every((k) => allowed.includes(k)),
    (u, c) => {
      if (typeof u === 'object' && u !== null && !Array.isArray(u)) {
        const unknown = Object.keys(u).filter((k) => !allowed.includes(k))
        if (unknown.length > 0)
          return t.failures(
            unknown.map((k) => ({
              value: (u as Record<string, unknown>)[k],
              context: [...c, { key: k, type: t.never, actual: (u as Record<string, unknown>)[k] }],
              message: `unknown key '${k}'; allowed keys here: ${allowed.join(', ')}`,
            })),
          )
      }
      return base.validate(u, c)
    },
    base.encode,
  )
}

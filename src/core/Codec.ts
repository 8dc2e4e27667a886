/**
 * io-ts helpers: errors as values with a JSON path and a fix, a closed-struct codec that rejects
 * unknown keys (io-ts `exact` only strips them), and primitive codecs whose names read as the fix
 * (`got "2"; expected a positive integer`).
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

/** the decoded type of a closed struct: required props, then optional ones (absent, never `undefined`) */
export type ClosedOf<R extends t.Props, O extends t.Props> = { readonly [K in keyof R]: t.TypeOf<R[K]> } & {
  readonly [K in keyof O]?: t.TypeOf<O[K]>
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** a plain JSON object (not null, not an array) */
export const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === 'object' && u !== null && !Array.isArray(u)

/**
 * `a.b[0].c` from an io-ts context; numeric keys that are not array indices (union and
 * intersection branches, which pass the same value down) are dropped
 */
export const pathOf = (c: t.Context): string =>
  c
    .filter((e, i) => {
      if (i === 0 || e.key === '') return false
      if (!/^\d+$/.test(e.key)) return true
      // the previous entry, the root included (a union or intersection at the root passes its branches' indices)
      const prev = c[i - 1]!
      return !(prev.type instanceof t.UnionType || prev.type instanceof t.IntersectionType || prev.actual === e.actual)
    })
    .reduce((acc, e) => (/^\d+$/.test(e.key) ? `${acc}[${e.key}]` : acc === '' ? e.key : `${acc}.${e.key}`), '')

/** a value as it appears in a message: JSON, cut at 60 characters */
export const show = (u: unknown): string => {
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

/** an issue at `path` */
export const issue = (path: string, message: string): Issue => ({ path, message })
/** [issue] when `cond`, else [] (the message is built only when needed) */
export const when = (cond: boolean, path: string, message: () => string): ReadonlyArray<Issue> => (cond ? [issue(path, message())] : [])
/** "1 node", "2 nodes" */
export const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`
/** n ∈ ℤ, n ≥ 1 */
export const isPosInt = (n: number): boolean => Number.isInteger(n) && n >= 1
/** the history indices a step with `avail` points may use, as a fix */
export const range = (avail: number): string => (avail === 1 ? '-1' : `a value in -${avail}..-1`)

/** one line per issue: `path: message` */
export const formatIssues = (issues: ReadonlyArray<Issue>): string => issues.map((i) => `${i.path}: ${i.message}`).join('\n')

/** decode or throw an Error listing every issue with its path */
export const decodeOrThrow =
  <A, O>(codec: t.Type<A, O, unknown>, what: string) =>
  (u: unknown): A =>
    pipe(
      codec.decode(u),
      E.getOrElseW((errs) => {
        throw new Error(`invalid ${what}:\n${formatIssues(issuesOf(errs))}`)
      }),
    )

/** Levenshtein distance (for "did you mean") */
const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1))
      diag = up
    }
  }
  return row[b.length]!
}

/** the closest allowed word within edit distance 2, if any */
export const suggest = (word: string, allowed: ReadonlyArray<string>): string | undefined =>
  allowed
    .map((a) => [a, distance(word, a)] as const)
    .filter(([, d]) => d <= Math.min(2, Math.max(1, Math.floor(word.length / 3))))
    .sort((x, y) => x[1] - y[1])[0]?.[0]

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a primitive codec from a guard; its name is what the message says is expected */
export const guard = <A>(name: string, is: (u: unknown) => u is A): t.Type<A, A, unknown> =>
  new t.Type<A, A, unknown>(
    name,
    is,
    (u, c) => (is(u) ? t.success(u) : t.failure(u, c)),
    (a) => a,
  )

/** n ∈ ℤ, n ≥ 1 */
export const positiveInt = guard('a positive integer', (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 1)
/** n ∈ ℤ, n ≤ −1 */
export const negativeInt = guard('a negative integer', (u): u is number => typeof u === 'number' && Number.isInteger(u) && u <= -1)
/** x ∈ ℝ, finite */
export const finiteNumber = guard('a finite number', (u): u is number => typeof u === 'number' && Number.isFinite(u))
/** x ∈ ℝ, finite, x > 0 */
export const positiveNumber = guard('a positive number', (u): u is number => typeof u === 'number' && Number.isFinite(u) && u > 0)
/** true | false */
export const bool = guard('true or false', (u): u is boolean => typeof u === 'boolean')
/** any string */
export const string = guard('a string', (u): u is string => typeof u === 'string')

/** one of a fixed list of string literals: `expected one of a, b, c` */
export const oneOf = <L extends string>(values: ReadonlyArray<L>): t.Type<L, L, unknown> => guard(`one of ${values.join(', ')}`, (u): u is L => typeof u === 'string' && values.some((v) => v === u))

/**
 * a struct with required and optional props that rejects unknown keys, naming them, the nearest
 * allowed key and all allowed ones; decodes to an object holding only the known keys
 * (`unknownKeys: 'strip'` drops them silently instead, to check the rest of a document anyway)
 */
export const closed = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O, unknownKeys: 'reject' | 'strip' = 'reject'): t.Type<ClosedOf<R, O>, unknown, unknown> => {
  const req = Object.keys(required)
  const opt = Object.keys(optional)
  const allowed = [...req, ...opt]
  const codecOf = (k: string): t.Mixed | undefined => required[k] ?? optional[k]
  const expected = `${name} {${[...req, ...opt.map((k) => `${k}?`)].join(', ')}}`
  const validate = (u: unknown, c: t.Context): t.Validation<ClosedOf<R, O>> => {
    if (!isRecord(u)) return t.failure(u, c, `got ${show(u)}; expected ${expected}`)
    const errors: t.ValidationError[] = []
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(u)) {
      if (allowed.includes(k) || unknownKeys === 'strip') continue
      const near = suggest(
        k,
        allowed.filter((a) => !(a in u)),
      )
      errors.push({
        value: u[k],
        context: t.appendContext(c, k, t.never, u[k]),
        message: `unknown key '${k}'; ${near === undefined ? 'remove it' : `did you mean '${near}'?`} (allowed keys here: ${allowed.join(', ')})`,
      })
    }
    for (const k of allowed) {
      const codec = codecOf(k)!
      const v = u[k]
      if (v === undefined) {
        if (req.includes(k)) errors.push({ value: undefined, context: t.appendContext(c, k, codec, undefined), message: `missing required key '${k}'; expected ${codec.name}` })
        continue
      }
      const r = codec.validate(v, t.appendContext(c, k, codec, v))
      if (E.isLeft(r)) errors.push(...r.left)
      else out[k] = r.right
    }
    // the keys and their types were checked one by one above
    return errors.length > 0 ? t.failures(errors) : t.success(out as ClosedOf<R, O>)
  }
  return new t.Type<ClosedOf<R, O>, unknown, unknown>(
    expected,
    (u): u is ClosedOf<R, O> => E.isRight(validate(u, [])),
    validate,
    (a) => {
      const rec: Readonly<Record<string, unknown>> = a
      return Object.fromEntries(allowed.filter((k) => rec[k] !== undefined).map((k) => [k, codecOf(k)!.encode(rec[k])]))
    },
  )
}

/** a closed-struct constructor with the unknown-key policy fixed (step fields build their codec fragments with it) */
export type Closed = <R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) => t.Type<ClosedOf<R, O>, unknown, unknown>

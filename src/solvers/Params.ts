/**
 * The `--set key=value` parameters of the named solvers: each declares what it accepts (one of a list of
 * words, or a number in a range), `check` validates a whole set against a solver's declaration (unknown
 * key or bad value → a message naming the key, what was given and the allowed keys or values), and the
 * readers convert a checked value. This is the only parser of `--set` values: every named solver's
 * `build` checks its set here before reading it (solvers/index.ts), and the CLI reports the same message.
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** what a parameter accepts */
export type Accepts =
  | { readonly kind: 'choice' }
  | {
      readonly kind: 'number'
      /** lower bound (inclusive, or exclusive with `above`) */
      readonly min?: number
      readonly above?: boolean
      /** upper bound, inclusive */
      readonly max?: number
      readonly integer?: boolean
      /** the word 'inf' is allowed (+∞) */
      readonly inf?: boolean
    }

/** a parameter a named solver accepts through `--set key=value`; `values`: the allowed words of a choice, else examples */
export interface Param {
  readonly doc: string
  readonly values: ReadonlyArray<string>
  readonly accepts: Accepts
}

/** the raw `--set` values of one solver, by key */
export type Sets = Readonly<Record<string, string>>

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** one of `values` */
export const choice = (doc: string, values: ReadonlyArray<string>): Param => ({ doc, values, accepts: { kind: 'choice' } })

/** 'true' or 'false' */
export const flag = (doc: string): Param => choice(doc, ['true', 'false'])

/** a number (`examples` are what `solvers` lists and the laws try; default '<number>', plus 'inf' where allowed) */
export const number = (doc: string, o: Omit<Extract<Accepts, { kind: 'number' }>, 'kind'> & { readonly examples?: ReadonlyArray<string> } = {}): Param => {
  const { examples, ...accepts } = o
  return { doc, values: examples ?? ['<number>', ...(o.inf === true ? ['inf'] : [])], accepts: { kind: 'number', ...accepts } }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** what a parameter accepts, in words ("an integer in 1–6", "one of exact, reference") */
export const describe = (p: Param): string => {
  const a = p.accepts
  if (a.kind === 'choice') return `one of ${p.values.join(', ')}`
  const what = a.integer === true ? 'an integer' : 'a number'
  const lo = a.min === undefined ? undefined : a.above === true ? `> ${a.min}` : `≥ ${a.min}`
  const range =
    a.min !== undefined && a.max !== undefined && a.above !== true
      ? ` in ${a.min}–${a.max}`
      : `${lo === undefined ? '' : ` ${lo}`}${a.max === undefined ? '' : `${lo === undefined ? '' : ' and'} ≤ ${a.max}`}`
  return `${what}${range}${a.inf === true ? " or 'inf'" : ''}`
}

/** why `value` is not accepted by `p`, or undefined when it is */
export const reject = (p: Param, value: string): string | undefined => {
  const a = p.accepts
  if (a.kind === 'choice') return p.values.includes(value) ? undefined : describe(p)
  if (a.inf === true && value === 'inf') return undefined
  const x = Number(value)
  const ok =
    value.trim() !== '' &&
    Number.isFinite(x) &&
    (a.integer !== true || Number.isInteger(x)) &&
    (a.min === undefined || (a.above === true ? x > a.min : x >= a.min)) &&
    (a.max === undefined || x <= a.max)
  return ok ? undefined : describe(p)
}

/** every problem of a set against a solver's parameters: unknown keys (with the allowed ones) and bad values (with what is accepted) */
export const problems = (id: string, params: Readonly<Record<string, Param>>, set: Sets | undefined): ReadonlyArray<string> => {
  const keys = Object.keys(params)
  return Object.entries(set ?? {}).flatMap(([k, v]): ReadonlyArray<string> => {
    const p = params[k]
    if (p === undefined) return [`--set ${k}: ${id} has ${keys.length === 0 ? 'no parameters' : `no parameter '${k}'; its parameters are ${keys.join(', ')}`}`]
    const why = reject(p, v)
    return why === undefined ? [] : [`--set ${k}=${v}: expected ${why} (${k}: ${p.doc})`]
  })
}

/** the set if every key and value is accepted, else throw an Error listing the problems */
export const check = (id: string, params: Readonly<Record<string, Param>>, set: Sets | undefined): Sets => {
  const ps = problems(id, params, set)
  if (ps.length > 0) throw new Error(ps.join('\n'))
  return set ?? {}
}

/** split `key=value` words into a set; a word without '=' or with an empty key is an error naming it */
export const parse = (words: ReadonlyArray<string>): Sets => {
  const out: Record<string, string> = {}
  for (const kv of words) {
    const eq = kv.indexOf('=')
    if (eq <= 0) throw new Error(`--set expects key=value, got '${kv}'`)
    out[kv.slice(0, eq)] = kv.slice(eq + 1)
  }
  return out
}

// readers of checked values ------------------------------------------------------------------------

/** a checked number ('inf' = +∞), or the default when absent */
export const num = (set: Sets | undefined, key: string, d: number): number => {
  const s = set?.[key]
  return s === undefined ? d : s === 'inf' ? Infinity : Number(s)
}

/** a checked number, or nothing when absent */
export const optionalNum = (set: Sets | undefined, key: string): number | undefined => (set?.[key] === undefined ? undefined : num(set, key, 0))

/** a checked choice, or the default when absent */
export const word = <A extends string>(set: Sets | undefined, key: string, values: ReadonlyArray<A>, d: A): A => values.find((v) => v === set?.[key]) ?? d

/** a checked 'true' / 'false', or the default when absent */
export const bool = (set: Sets | undefined, key: string, d: boolean): boolean => {
  const s = set?.[key]
  return s === undefined ? d : s === 'true'
}

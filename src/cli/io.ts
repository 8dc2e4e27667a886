/**
 * CLI plumbing: argument parsing, atomic file writes, JSON reading with clear errors.
 */
import * as fs from 'node:fs'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** parsed arguments: positionals, single-valued flags, repeatable flags, boolean switches */
export interface Args {
  readonly positional: ReadonlyArray<string>
  readonly flags: ReadonlyMap<string, ReadonlyArray<string>>
}

/** a usage error (exit code 2) */
export interface UsageError extends Error {
  readonly usage: true
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** an Error marked as a usage problem */
export const usage = (message: string): UsageError => Object.assign(new Error(message), { usage: true as const })

/**
 * parse `--key value`, `--key=value` and boolean `--switch` (listed in `switches`); unknown flags
 * (not in `known`) are usage errors naming the allowed ones
 */
export const parse = (argv: ReadonlyArray<string>, known: ReadonlyArray<string>, switches: ReadonlyArray<string> = []): Args => {
  const positional: string[] = []
  const flags = new Map<string, string[]>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) {
      positional.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const key = eq >= 0 ? a.slice(2, eq) : a.slice(2)
    if (!known.includes(key) && !switches.includes(key)) throw usage(`unknown flag --${key}; allowed: ${[...known, ...switches].map((k) => `--${k}`).join(' ')}`)
    let value: string
    if (switches.includes(key)) value = eq >= 0 ? a.slice(eq + 1) : 'true'
    else if (eq >= 0) value = a.slice(eq + 1)
    else {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) throw usage(`--${key} needs a value`)
      value = next
      i++
    }
    flags.set(key, [...(flags.get(key) ?? []), value])
  }
  return { positional, flags }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the last value of a flag */
export const get = (a: Args, key: string): string | undefined => a.flags.get(key)?.at(-1)

/** a required flag */
export const need = (a: Args, key: string): string => {
  const v = get(a, key)
  if (v === undefined) throw usage(`--${key} is required`)
  return v
}

/** all values of a repeatable flag */
export const all = (a: Args, key: string): ReadonlyArray<string> => a.flags.get(key) ?? []

/** a positive integer flag */
export const int = (a: Args, key: string, dflt?: number): number => {
  const v = get(a, key)
  if (v === undefined) {
    if (dflt === undefined) throw usage(`--${key} is required`)
    return dflt
  }
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw usage(`--${key}: expected a non-negative integer, got '${v}'`)
  return n
}

/** read and parse a JSON file; errors name the file */
export const readJson = (file: string): unknown => {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw new Error(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** write a file atomically (Files.ts) */
export { writeAtomic } from '../core/Files.ts'

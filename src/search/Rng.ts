/**
 * A seeded, serializable pseudo-random generator for the search: mulberry32 over one uint32 of
 * state. The state is a plain number, so a checkpoint stores it and a resumed search continues the
 * exact same stream. The generator is the search's only mutable cell (`Rng.state` is updated in place).
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a generator: its uint32 state (advanced by every draw) */
export interface Rng {
  state: number
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** a generator from a seed: state = hash(seed) (any finite number; equal seeds ⇒ equal streams) */
export const make = (seed: number): Rng => ({ state: mix((Math.floor(seed) >>> 0) ^ 0x9e3779b9) })

/** a generator from a saved state (`r.state`) */
export const fromState = (state: number): Rng => ({ state: state >>> 0 })

/** an independent stream derived from a seed and labels: make(hash(seed, …labels)) */
export const derive = (seed: number, ...labels: ReadonlyArray<number>): Rng => fromState(labels.reduce((h, l) => mix(h ^ (Math.floor(l) >>> 0)), mix((Math.floor(seed) >>> 0) + 0x6d2b79f5)))

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** a 32-bit integer finalizer (murmur3 fmix32) */
export const mix = (h0: number): number => {
  let h = h0 >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

// -------------------------------------------------------------------------------------------------
// destructors (each advances the state)
// -------------------------------------------------------------------------------------------------

/** u ~ U[0, 1) (mulberry32 step) */
export const next = (r: Rng): number => {
  r.state = (r.state + 0x6d2b79f5) >>> 0
  let t = r.state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** k ~ U{0, …, n−1} */
export const int = (r: Rng, n: number): number => Math.min(n - 1, Math.floor(next(r) * n))

/** true with probability p */
export const chance = (r: Rng, p: number): boolean => next(r) < p

/** z ~ N(0, 1) (Box–Muller, one draw of the pair) */
export const normal = (r: Rng): number => {
  const u = 1 - next(r)
  const v = next(r)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** a uniformly chosen element of a non-empty list */
export const pick = <A>(r: Rng, xs: ReadonlyArray<A>): A => xs[int(r, xs.length)]!

/** an element drawn with the given (unnormalized, non-negative) weights */
export const weighted = <A>(r: Rng, table: ReadonlyArray<readonly [A, number]>): A => {
  const total = table.reduce((a, [, w]) => a + w, 0)
  let u = next(r) * total
  for (const [a, w] of table) {
    if (u < w) return a
    u -= w
  }
  return table[table.length - 1]![0]
}

/** a uniformly random permutation of 0..n−1 (Fisher–Yates) */
export const permutation = (r: Rng, n: number): ReadonlyArray<number> => {
  const p = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = int(r, i + 1)
    const tmp = p[i]!
    p[i] = p[j]!
    p[j] = tmp
  }
  return p
}

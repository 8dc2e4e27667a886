/**
 * Order policies: which order each step of a multistep method uses. Boundary cases are data: the
 * policy produces the per-step orders that go into the schedule document.
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a policy maps (step index i, number of steps n) to the order of step i */
export type OrderPolicy = (i: number, n: number) => number

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** warm-up: order_i = min(p, i + 1) (only i earlier outputs exist at step i) */
export const warmup =
  (p: number): OrderPolicy =>
  (i) =>
    Math.min(p, i + 1)

// -------------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------------

/**
 * lower order at the end: order_i ← min(order_i, n − i) when n < threshold (DPM-Solver: 10;
 * diffusers: 15; UniPC: always, threshold = ∞)
 */
export const lowerOrderFinal =
  (threshold = Infinity) =>
  (policy: OrderPolicy): OrderPolicy =>
  (i, n) =>
    n < threshold ? Math.min(policy(i, n), n - i) : policy(i, n)

/** Euler at the final step: order_{n−1} = 1 */
export const eulerAtFinal =
  (policy: OrderPolicy): OrderPolicy =>
  (i, n) =>
    i === n - 1 ? 1 : policy(i, n)

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** the orders of all n steps */
export const orders =
  (n: number) =>
  (policy: OrderPolicy): ReadonlyArray<number> =>
    Array.from({ length: n }, (_, i) => policy(i, n))

/**
 * DPM-Solver-fast's split of an NFE budget into singlestep orders (docs/math.md#singlestep):
 * order 3: [3…3,2,1] | [3…3,1] | [3…3,2] for n mod 3 = 0, 1, 2; order 2: [2…2] | [2…2,1]; order 1: [1…1]
 */
export const singlestepOrders = (order: number, nfe: number): ReadonlyArray<number> => {
  const rep = (k: number, v: number) => Array.from({ length: Math.max(0, k) }, () => v)
  if (order === 3) {
    const K = Math.floor(nfe / 3) + 1
    if (nfe % 3 === 0) return [...rep(K - 2, 3), 2, 1]
    if (nfe % 3 === 1) return [...rep(K - 1, 3), 1]
    return [...rep(K - 1, 3), 2]
  }
  if (order === 2) {
    if (nfe % 2 === 0) return rep(nfe / 2, 2)
    const K = Math.floor(nfe / 2) + 1
    return [...rep(K - 1, 2), 1]
  }
  return rep(nfe, 1)
}

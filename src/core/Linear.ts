/**
 * The only algebra a step may use: linear combinations with float64 coefficients.
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** Σ cᵢ·vᵢ in one pass */
export interface Linear<V> {
  readonly lincomb: (terms: ReadonlyArray<readonly [number, V]>) => V
}

// -------------------------------------------------------------------------------------------------
// instances
// -------------------------------------------------------------------------------------------------

/** Float64Array instance: out[k] = Σ cᵢ·vᵢ[k] */
export const float64: Linear<Float64Array> = {
  lincomb: (terms) => {
    const n = terms[0]?.[1].length ?? 0
    const out = new Float64Array(n)
    for (const [c, v] of terms) {
      if (c === 0) continue
      for (let k = 0; k < n; k++) out[k]! += c * v[k]!
    }
    return out
  },
}

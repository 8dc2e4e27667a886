/**
 * Estimate DPM-Solver-v3's empirical model statistics (l, s, b) of the shipped learned models with
 * tfjs autodiff (Hutchinson VJP for l, a VJP of a VJP for dε̂/dλ) and write models/<name>.ems.json.
 *
 *   node --import tsx scripts/ems.ts [--only spiral2d] [--M 120] [--samples 4096] [--out models]
 */
import { renameSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import * as DpmV3 from '../src/core/DpmV3.ts'
import * as L from '../src/models/Learned.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TL from '../src/run/TfjsLearned.ts'

const arg = (k: string): string | undefined => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const only = arg('only')
const out = arg('out') ?? path.join(import.meta.dirname, '..', 'models')
const M = Number(arg('M') ?? 120)
const samples = Number(arg('samples') ?? 4096)

await Tfjs.init('wasm')
for (const name of L.shipped.filter((n) => only === undefined || n === only)) {
  const l = L.load(name)
  const t0 = performance.now()
  const p = TL.probe(l)
  const ems = DpmV3.estimate(L.scheduleOf(l), p.probe, L.sample(l.dataset), l.D, { model: name, M, samples, batch: 2048, seed: 1 })
  p.dispose()
  const file = path.join(out, `${name}.ems.json`)
  writeFileSync(`${file}.tmp`, `${JSON.stringify(DpmV3.encode(ems))}\n`)
  renameSync(`${file}.tmp`, file)
  const range = (v: Float64Array) => `[${Math.min(...v).toPrecision(3)}, ${Math.max(...v).toPrecision(3)}]`
  console.log(`${name}: EMS on ${M + 1} λ points × ${samples} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s; l ∈ ${range(ems.l)}, s ∈ ${range(ems.s)}, b ∈ ${range(ems.b)} → ${file}`)
}

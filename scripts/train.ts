/**
 * Train the shipped learned denoisers (Learned.recipes) on the wasm backend and write
 * models/<name>.json. Everything random (dataset, init, batch order, t, z) comes from the recipe's
 * seeds, so the same recipe gives the same weights.
 *
 *   node --import tsx scripts/train.ts [--only spiral2d] [--steps N] [--out models]
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as L from '../src/models/Learned.ts'
import * as Tfjs from '../src/run/Tfjs.ts'
import * as TL from '../src/run/TfjsLearned.ts'

const arg = (k: string): string | undefined => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const only = arg('only')
const out = arg('out') ?? path.join(import.meta.dirname, '..', 'models')
const names = L.shipped.filter((n) => only === undefined || n === only)
if (names.length === 0) throw new Error(`--only ${only}: unknown model; known: ${L.shipped.join(', ')}`)

await Tfjs.init('wasm')
mkdirSync(out, { recursive: true })
for (const name of names) {
  const r = L.recipes[name]
  const steps = Number(arg('steps') ?? r.training.steps)
  const t0 = performance.now()
  const l = TL.train(r.arch, {
    ...r.training,
    steps,
    every: 1000,
    progress: (step, loss) => console.log(`${name}: step ${step}/${steps} loss ${loss.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
  })
  const seconds = Math.round((performance.now() - t0) / 100) / 10
  const file = path.join(out, `${name}.json`)
  writeFileSync(`${file}.tmp`, `${JSON.stringify(L.encode({ ...l, training: { ...l.training, seconds } }))}\n`)
  renameSync(`${file}.tmp`, file)
  console.log(`${name}: ${L.parameters(l)} parameters, ${seconds} s (load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores) → ${file}`)
}

/**
 * Golden parity of the Tfjs interpreter (float32, wasm backend): every run of every golden file, on
 * all N rows, against the reference x0 rows within max(10·f32_dev.max_abs, 1e-4) (README §Tolerances:
 * f32_dev is how far the same reference code lands from its float64 output in float32), and
 * tf.memory().numTensors back to its baseline after each run.
 */
import * as assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { before, test } from 'node:test'
import * as tf from '@tensorflow/tfjs'
import * as t from 'io-ts'
import * as Golden from '../src/interop/Golden.ts'
import * as Prog from '../src/run/Program.ts'
import { decodeOrThrow } from '../src/core/Codec.ts'
import * as _ from '../src/run/Tfjs.ts'
import * as TfjsGmm from '../src/run/TfjsGmm.ts'

const dir = path.join(import.meta.dirname, 'golden')
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))

/** the per-run float32 deviation of the reference (GoldenC leaves it out) */
const F32C = t.type({ runs: t.array(t.type({ id: t.string, f32_dev: t.type({ max_abs: t.number }) })) })

before(() => _.init('wasm'))

test('the golden files are present', () => assert.ok(files.length >= 4, `found ${files.length} golden files in ${dir}`))

for (const f of files) {
  test(`golden parity (tfjs wasm, float32): ${f}`, () => {
    const raw: unknown = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))
    const g = Golden.decodeGolden(raw)
    const dev = decodeOrThrow(F32C, `${f} f32_dev`)(raw).runs
    const ns = Golden.noiseSchedule(g)
    const model = TfjsGmm.eps(g.problem)
    const xT = _.fromFloat64(Golden.flatten(g.x_T.data), g.problem.D)
    const baseline = tf.memory().numTensors
    const started = performance.now()
    let worst = 0
    try {
      g.runs.forEach((run, k) => {
        assert.equal(dev[k]!.id, run.id)
        const p = Prog.compileOrThrow(ns, 'eps')(Golden.scheduleOf(run))
        const r = _.run(p, model)(xT)
        const y = Golden.rows(_.toFloat64(r.x), g.problem.D)
        r.x.dispose()
        assert.equal(tf.memory().numTensors, baseline, `${run.id}: tensors left after the run`)
        assert.equal(r.nfe, run.nfe, `${run.id}: NFE`)
        // tolerance: 10× the reference's own float32 deviation (README §Tolerances), floor 1e-4
        const tol = Math.max(10 * dev[k]!.f32_dev.max_abs, 1e-4)
        const d = Golden.maxAbs(y, run.x0!)
        worst = Math.max(worst, d / tol)
        assert.ok(d <= tol, `${run.id}: max |Δ| vs reference x0 = ${d} > ${tol}`)
      })
    } finally {
      tf.dispose([xT])
      model.dispose()
    }
    assert.ok(worst > 0, 'comparisons happened')
    console.log(`  ${f}: ${g.runs.length} runs × ${g.x_T.data.length} rows, worst |Δ|/tol = ${worst.toFixed(3)}, ${((performance.now() - started) / 1000).toFixed(1)} s`)
  })
}

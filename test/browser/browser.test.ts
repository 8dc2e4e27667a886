/**
 * The same schedules in the browser: build the demo (out/demo/), serve it on 127.0.0.1, drive
 * Debian's Chromium headless through playwright-core (WebGL on SwiftShader: this checks the GPU
 * path's correctness, never its speed) and check, through the page's `window.stepwiseTest`:
 * (a) the active backend is webgl (webgpu with STEPWISE_WEBGPU=1) with the fused lincomb kernel;
 * (b) DPM-Solver++(2M), UniPC (bh2, 3) and the exact 3M on a GMM agree with the Float64 interpreter
 *     run here in Node, and tf.memory().numTensors stays flat across steps;
 * (c) law: the fused WebGL (WebGPU) kernel equals the unfused addN within float32 rounding;
 * (d) a screenshot (out/browser.png), decoded here, shows a non-blank samples canvas;
 * (e) the schedule editor reports issues with their paths, ?schedule=URL loads a document.
 * `npm run test:browser`; not part of `npm test`.
 */
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { after, before, test } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import * as Codec from '../../src/schedule/Codec.ts'
import * as Gmm from '../../src/core/Gmm.ts'
import * as NS from '../../src/core/NoiseSchedule.ts'
import * as Prog from '../../src/run/Program.ts'
import * as Solvers from '../../src/solvers/index.ts'
import * as F from '../../src/run/Float64.ts'
import type * as Api from '../../examples/browser/api.ts'
import { build } from '../../examples/browser/build.ts'
import { serve, type Server } from '../../examples/browser/serve.ts'
import * as Png from './png.ts'

// -------------------------------------------------------------------------------------------------
// setup
// -------------------------------------------------------------------------------------------------

const WEBGPU = process.env['STEPWISE_WEBGPU'] === '1'
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium'
const OUT = path.join(import.meta.dirname, '..', '..', 'out')
/** the backends checked: webgl always, webgpu first with the flag */
const BACKENDS: ReadonlyArray<'webgl' | 'webgpu'> = WEBGPU ? ['webgpu', 'webgl'] : ['webgl']
const SEED = 20240611
/** the demo's noise schedule (examples/browser/demo.ts `ns`) */
const ns = NS.vpLinear(0.1, 20)

let server: Server
let browser: Browser
let page: Page
let status: Api.Status
const consoleErrors: string[] = []

const launchArgs = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-swiftshader',
  ...(WEBGPU ? ['--enable-unsafe-webgpu'] : []),
]

/** open the demo at `query` and wait for its first run */
const open = async (query = ''): Promise<Api.Status> => {
  await page.goto(`${server.url}${query}`)
  return page.evaluate(() => window.stepwiseTest!.ready())
}

before(async () => {
  const b = await build()
  console.log(`  built out/demo/ in ${b.ms.toFixed(0)} ms (${(b.bytes / 1e6).toFixed(1)} MB)`)
  server = await serve(b.dir)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: launchArgs })
  page = await browser.newPage({ viewport: { width: 1200, height: 1250 } })
  page.on('pageerror', (e) => consoleErrors.push(e.stack ?? e.message))
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('favicon')) consoleErrors.push(m.text())
  })
  status = await open()
})

after(async () => {
  await browser?.close()
  await server?.close()
})

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** unit roundoff of float32 */
const U32 = 2 ** -24

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

const switchTo = async (b: string): Promise<Api.Status> => page.evaluate((name) => window.stepwiseTest!.use(name === 'webgpu' ? 'webgpu' : 'webgl'), b)

// -------------------------------------------------------------------------------------------------
// (a) backend
// -------------------------------------------------------------------------------------------------

test(`the page starts on ${WEBGPU ? 'webgpu' : 'webgl'} (auto: webgpu → webgl → wasm) with the fused lincomb`, async () => {
  console.log(`  active: ${status.backend} (${status.renderer || 'no renderer string'}); tried before: ${status.failed.map((f) => f.backend).join(', ') || 'none'}`)
  assert.equal(status.backend, WEBGPU ? 'webgpu' : 'webgl')
  assert.equal(status.variant, 'fused', 'Tfjs.bestVariant() on the page')
  const badge = await page.locator('#backend').textContent()
  assert.match(badge ?? '', new RegExp(`^${status.backend} · lincomb fused`))
  assert.deepEqual(consoleErrors, [], 'no page errors')
})

// -------------------------------------------------------------------------------------------------
// (b) solvers: page vs Float64 in Node, memory
// -------------------------------------------------------------------------------------------------

/**
 * Tolerance 1e-3 × the data scale (max |x₀| of the Float64 result, ≈ 1 here). The page computes in
 * float32 (u = 6e-8) with the GPU's exp/log/division, whose GLSL/WGSL accuracy is only specified to
 * a few ulps (SwiftShader, ANGLE and drivers differ); the mixture's softmax turns a relative error δ
 * in the exponent (|logit| up to ~10²) into ~10²δ in ε, and the solver carries ε errors to x₀ with
 * coefficients of order σ/α summed over the steps. The measured worst deviation is printed: it sits
 * one to two orders of magnitude below the bound, which still catches every real fault (a wrong
 * coefficient, a dropped term or a stale history entry moves x₀ by ≥ 1e-2).
 */
const SOLVER_TOL = 1e-3

const SOLVERS = ['dpmpp-2m', 'unipc-bh2-3', 'dpmpp-3m'] as const

for (const backend of BACKENDS)
  test(`${backend}: ${SOLVERS.join(', ')} on a GMM agree with Float64 in Node (≤ ${SOLVER_TOL} × data scale); numTensors flat across steps`, async () => {
    const active = await switchTo(backend)
    assert.equal(active.backend, backend)
    const g = Gmm.random(4, 2, 3)
    const rows = 256
    const xT = Gmm.normals(rows * 2, SEED).map(Math.fround)
    for (const id of SOLVERS) {
      const peaks: number[] = []
      for (const nfe of [10, 20]) {
        const schedule = Solvers.byId(id)!.build({ nfe })
        const p = Prog.compileOrThrow(ns, 'eps')(schedule)
        const exact = F.run(p, Gmm.eps(g))(xT).x
        const scale = exact.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
        const r = await page.evaluate((req) => window.stepwiseTest!.run(req), { schedule: Codec.encode(schedule), gmm: g, xT: Array.from(xT), profile: nfe === 10 })
        const d = maxAbs(r.x, exact)
        const peak = Math.max(...r.tensors)
        peaks.push(peak)
        const ends = r.steps.flatMap((s, k) => (s >= 0 && r.steps.slice(k + 1).every((t) => t !== s) ? [r.tensors[k]!] : []))
        console.log(
          `  ${backend} ${id} NFE ${nfe}: max |page − Float64| = ${d.toExponential(2)} (scale ${scale.toFixed(2)}), numTensors above baseline at step ends [${ends.join(' ')}], peak ${peak}${nfe === 10 ? `, ${r.kernels.length} distinct kernels (StepwiseLincomb among them: ${r.kernels.includes('StepwiseLincomb')})` : ''}`,
        )
        assert.equal(r.backend, backend)
        assert.equal(r.nfe, p.nfe)
        assert.ok(d <= SOLVER_TOL * scale, `${id} NFE ${nfe}: max |page − Float64| = ${d} > ${SOLVER_TOL} × ${scale}`)
        if (nfe === 10) assert.ok(r.kernels.includes('StepwiseLincomb'), `${id}: the run used the fused kernel (kernels: ${r.kernels.join(', ')})`)
        // memory: bounded by the program's history depth (each entry ≤ 3 tensors, plus x), never growing with the step count
        assert.ok(peak <= 3 * r.historyDepth + 1, `${id}: peak ${peak} tensors above baseline > 3 × ${r.historyDepth} + 1`)
        assert.equal(r.after, 1, 'only the result survives the run')
        assert.equal(r.leaked, 0, 'nothing survives once the result is disposed')
        const settled = ends.slice(r.historyDepth)
        assert.ok(
          settled.every((n) => n <= Math.max(...ends.slice(0, r.historyDepth + 1))),
          `${id}: numTensors grows after the history filled: [${ends.join(' ')}]`,
        )
      }
      assert.equal(peaks[1], peaks[0], `${id}: the peak does not depend on NFE (flat across steps)`)
    }
  })

// -------------------------------------------------------------------------------------------------
// (c) law: fused = addN
// -------------------------------------------------------------------------------------------------

/**
 * Both variants round each cᵢ to float32; addN rounds every product and the n-ary sum, the shader
 * may contract into FMAs and sums left to right. Each result is within (n + 1)·u·Σ|cᵢvᵢ| (+ the
 * coefficient rounding u·Σ|cᵢvᵢ|) of the exact sum, so they differ by at most 2(n + 2)·u·Σ|cᵢvᵢ|.
 */
for (const backend of BACKENDS)
  test(`${backend} law: the fused kernel equals addN within 2(n + 2)·u·Σ|cᵢvᵢ| for random 1–8 terms (and one 20-term case past the per-shader input limit)`, async () => {
    await switchTo(backend)
    const rnd = Gmm.mulberry32(SEED)
    // a few shapes (each new shape compiles new shaders, slow on SwiftShader): a single value, odd
    // sizes that leave packed 2×2 texels partly empty, and a larger batch; on webgl every other case
    // runs the unpacked shaders (WEBGL_PACK false), where tiny inputs arrive as uniforms
    const shapes = [
      [1, 1],
      [3, 2],
      [64, 2],
      [257, 5],
    ] as const
    const cases = Array.from({ length: 33 }, (_, k) => {
      const n = k === 32 ? 20 : 1 + Math.floor(rnd() * 8)
      const shape = shapes[k % shapes.length]!
      const size = shape[0] * shape[1]
      const cs = Array.from({ length: n }, () => Math.fround((rnd() * 2 - 1) * 4 * 10 ** (rnd() * 2 - 1)))
      const vs = cs.map((_c, i) => Array.from(Gmm.normals(size, SEED + 97 * k + i), Math.fround))
      return { shape, cs, vs, pack: k % 2 === 0 }
    })
    // tfjs-backend-webgpu 4.22's AddN binds every input as a storage buffer in one shader and fails
    // validation past WebGPU's default 8 per stage (n + 1 > 8: the result buffer is left as it was);
    // there the fused kernel (which splits into passes) is checked against the exact sum only
    const addNWorks = (n: number) => backend !== 'webgpu' || n + 1 <= 8
    let worst = 0
    const t0 = performance.now()
    for (const c of cases) {
      const r = await page.evaluate((req) => window.stepwiseTest!.lincomb(req), c)
      const n = c.cs.length
      const size = c.shape[0] * c.shape[1]
      assert.equal(r.fused.length, size)
      for (let k = 0; k < size; k++) {
        const mag = c.cs.reduce((s, ci, i) => s + Math.abs(ci * c.vs[i]![k]!), 0)
        const exact = c.cs.reduce((s, ci, i) => s + ci * c.vs[i]![k]!, 0)
        const tol = 2 * (n + 2) * U32 * mag + 1e-30
        const d = Math.abs(r.fused[k]! - r.addN[k]!)
        if (addNWorks(n)) {
          worst = Math.max(worst, d / tol)
          assert.ok(d <= tol, `${n} terms, element ${k}: |fused − addN| = ${d} > ${tol}`)
        }
        assert.ok(Math.abs(r.fused[k]! - exact) <= tol, `${n} terms, element ${k}: |fused − exact| = ${Math.abs(r.fused[k]! - exact)} > ${tol}`)
      }
      if (n >= 2) {
        assert.deepEqual(r.fusedKernels, ['StepwiseLincomb'], `${n} terms: fused runs one kernel (tfjs counts one kernel call, whatever passes it takes)`)
        assert.ok(r.addNKernels.includes('AddN'), `${n} terms: addN runs Multiply + AddN (${r.addNKernels.join(', ')})`)
      }
    }
    console.log(`  ${backend}: ${cases.length} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s, worst |fused − addN| / tol = ${worst.toFixed(3)}`)
  })

// -------------------------------------------------------------------------------------------------
// (d) screenshot
// -------------------------------------------------------------------------------------------------

test('screenshot out/browser.png: the samples canvas is drawn (many colours, many non-white pixels), the chart has its 5 series', async () => {
  await page.evaluate(() => window.stepwiseTest!.settle())
  await page.evaluate(() => window.stepwiseTest!.show(-1))
  const series = await page.locator('#chart svg g.series').count()
  assert.equal(series, 5, 'the error-vs-NFE chart shows the 5 default solvers')
  fs.mkdirSync(OUT, { recursive: true })
  const file = path.join(OUT, 'browser.png')
  await page.screenshot({ path: file, fullPage: true })
  const box = await page.locator('#samples').boundingBox()
  assert.ok(box !== null, 'the canvas is laid out')
  const img = Png.decode(fs.readFileSync(file))
  const s = Png.stats(img, box)
  const inPage = await page.evaluate(() => window.stepwiseTest!.canvasStats())
  console.log(
    `  ${file}: ${img.width}×${img.height}; canvas ${Math.round(box.width)}×${Math.round(box.height)}: ${s.distinct} colours, ${((100 * s.foreground) / s.pixels).toFixed(1)}% non-white (in-page: ${inPage.distinct} colours, ${((100 * inPage.foreground) / (inPage.width * inPage.height)).toFixed(1)}%)`,
  )
  assert.ok(s.distinct >= 100, `only ${s.distinct} distinct colours in the canvas`)
  assert.ok(s.foreground >= 0.03 * s.pixels, `only ${s.foreground} of ${s.pixels} pixels are not white`)
  assert.ok(inPage.distinct >= 100 && inPage.foreground >= 0.03 * inPage.width * inPage.height, 'the canvas pixels read in the page agree')
  assert.deepEqual(consoleErrors, [], 'no page errors')
})

// -------------------------------------------------------------------------------------------------
// (e) the editor
// -------------------------------------------------------------------------------------------------

test('the editor shows decode issues with their paths; ?schedule=URL loads a document and runs it', async () => {
  await switchTo(BACKENDS[0]!)
  const bad = JSON.stringify({
    format: 'stepwise-schedule/v1',
    grid: { spacing: 'logSNR', steps: 2 },
    steps: [
      { prediction: 'data', order: 2 },
      { prediction: 'data', order: 1, colour: 'red' },
    ],
  })
  await page.locator('#doc').fill(bad)
  const issues = page.locator('#issues li')
  await issues.first().waitFor()
  const texts = await issues.allTextContents()
  assert.ok(
    texts.some((t) => t.startsWith('steps[0].order: order 2 needs 1 earlier evaluation')),
    texts.join('\n'),
  )
  assert.ok(
    texts.some((t) => t.startsWith("steps[1].colour: unknown key 'colour'")),
    texts.join('\n'),
  )
  assert.equal(await page.locator('#solver').inputValue(), 'custom')

  const loaded = await open('?schedule=schedules/schedule.json')
  assert.equal(loaded.backend, status.backend)
  assert.match((await page.locator('#summary').textContent()) ?? '', /^unipc-like-6 · NFE \d+ · mean L2 error/)
  assert.match((await page.locator('#issues li').first().textContent()) ?? '', /valid: 6 steps/)
  assert.deepEqual(consoleErrors, [], 'no page errors')
})

/**
 * The Tfjs interpreter in headless Chromium: kernel calls per step and ms per step of the fused
 * lincomb against addN, on webgl (SwiftShader: software emulation of a GPU, so its times say how
 * much work and synchronisation the CPU does per step, never how fast a GPU is), on the wasm
 * backend in the browser (real CPU times), and on webgpu with STEPWISE_WEBGPU=1 (SwiftShader too).
 *
 *   node --import tsx bench/browser.ts [--reps 7] [--nfe 20] [--rows 4096] [--cols 64] [--backends webgl,wasm]
 *
 * Per run: Tfjs.run (no finiteness check) with a model returning tf.clone of a fixed ε (no compute),
 * ended by reading the result back (which waits for the GPU queue); ms/step = run / steps, median of
 * the repetitions (fused and addN interleaved, after 2 warm-up runs each). Kernel calls are counted
 * by tf.profile over one run.
 */
import * as os from 'node:os'
import { chromium } from 'playwright-core'
import * as Codec from '../src/schedule/Codec.ts'
import * as Solvers from '../src/solvers/index.ts'
import { build } from '../examples/browser/build.ts'
import { serve } from '../examples/browser/serve.ts'

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

const arg = (k: string, d: number): number => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? d : Number(process.argv[i + 1])
}
const REPS = arg('reps', 7)
const NFE = arg('nfe', 20)
const ROWS = arg('rows', 4096)
const COLS = arg('cols', 64)
const SOLVERS = ['dpmpp-2m', 'dpmpp-3m', 'unipc-bh2-3']
const WEBGPU = process.env['STEPWISE_WEBGPU'] === '1'
const ONLY = process.argv.includes('--backends') ? process.argv[process.argv.indexOf('--backends') + 1]!.split(',') : undefined
const BACKENDS = (['webgl', 'webgpu', 'wasm'] as const).filter((b) => (ONLY === undefined ? b !== 'webgpu' || WEBGPU : ONLY.includes(b)))

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const fmt = (x: number): string => (x >= 10 ? x.toFixed(1) : x.toFixed(2))

/** kernel calls per step (the model's Identity calls left out), with the names */
const perStep = (kernels: Readonly<Record<string, number>>, steps: number): string => {
  const lincomb = Object.entries(kernels).filter(([k]) => k !== 'Identity')
  const total = lincomb.reduce((s, [, n]) => s + n, 0)
  return `${(total / steps).toFixed(2)} (${lincomb.map(([k, n]) => `${k} ${(n / steps).toFixed(2)}`).join(', ')})`
}

// -------------------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------------------

const built = await build()
const server = await serve(built.dir)
const browser = await chromium.launch({
  executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--enable-unsafe-swiftshader',
    ...(WEBGPU ? ['--enable-unsafe-webgpu'] : []),
  ],
})
const page = await browser.newPage()
await page.goto(`${server.url}?backend=wasm&rows=16`)
await page.evaluate(() => window.stepwiseTest!.ready())
const version = browser.version()

const rows: string[] = []
for (const backend of BACKENDS) {
  const st = await page.evaluate((b) => window.stepwiseTest!.use(b), backend)
  for (const id of SOLVERS) {
    const schedule = Codec.encode(Solvers.byId(id)!.build({ nfe: NFE }))
    const r = await page.evaluate((req) => window.stepwiseTest!.bench(req), { schedule, rows: ROWS, cols: COLS, reps: REPS, lincombs: ['fused', 'addN'] as const })
    const fused = median(r.msPerStep['fused']!)
    for (const v of ['fused', 'addN'] as const) {
      const ms = median(r.msPerStep[v]!)
      const line = `| ${st.backend}${/swiftshader/i.test(st.renderer) ? ' (SwiftShader)' : ''} | ${id} | ${(r.combines / r.steps).toFixed(2)} | ${v} | ${perStep(r.kernels[v]!, r.steps)} | ${fmt(ms)} | ${(ms / fused).toFixed(2)} | ${fmt(r.readbackMs)} |`
      console.log(line)
      rows.push(line)
    }
  }
}
await browser.close()
await server.close()

console.log(`
Chromium ${version} headless, ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, load ${os.loadavg()[0]!.toFixed(1)}; NFE ${NFE}, ${ROWS}×${COLS}, medians of ${REPS}

| backend | solver | combines/step | lincomb | kernel calls/step | ms/step | ÷ fused | readback ms |
|---|---|---:|---|---|---:|---:|---:|
${rows.join('\n')}`)

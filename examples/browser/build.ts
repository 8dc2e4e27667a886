/**
 * `npm run build:demo`: bundle the browser demo with esbuild into out/demo/ (main.js with tfjs and
 * every backend inside, index.html, style.css, the tfjs wasm binaries next to the bundle for
 * `setWasmPaths`, and examples/schedule.json under schedules/): a self-contained, offline page.
 */
import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** what a build wrote */
export interface Built {
  readonly dir: string
  readonly files: ReadonlyArray<string>
  readonly bytes: number
  readonly ms: number
}

const here = import.meta.dirname
const root = path.join(here, '..', '..')

/** the default output directory: out/demo */
export const defaultDir = path.join(root, 'out', 'demo')

/** the tfjs-backend-wasm binaries (plain, SIMD, threaded SIMD): the backend picks one at run time */
const wasmFiles = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** bundle and copy everything the page needs into `dir` (replacing what was there) */
export const build = async (dir: string = defaultDir): Promise<Built> => {
  const t0 = performance.now()
  await fs.rm(dir, { recursive: true, force: true })
  await fs.mkdir(path.join(dir, 'schedules'), { recursive: true })
  await esbuild.build({
    entryPoints: [path.join(here, 'main.ts')],
    outfile: path.join(dir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: process.env['STEPWISE_DEMO_MINIFY'] !== '0',
    sourcemap: 'linked',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  })
  const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist')
  await Promise.all([
    ...['index.html', 'style.css'].map((f) => fs.copyFile(path.join(here, f), path.join(dir, f))),
    ...wasmFiles.map((f) => fs.copyFile(path.join(wasmDir, f), path.join(dir, f))),
    fs.copyFile(path.join(root, 'examples', 'schedule.json'), path.join(dir, 'schedules', 'schedule.json')),
  ])
  const files = (await fs.readdir(dir, { recursive: true })).filter((f) => !f.endsWith('schedules')).sort()
  const sizes = await Promise.all(files.map((f) => fs.stat(path.join(dir, f)).then((s) => (s.isFile() ? s.size : 0))))
  return { dir, files, bytes: sizes.reduce((a, b) => a + b, 0), ms: performance.now() - t0 }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const b = await build(process.argv[2] === undefined ? defaultDir : path.resolve(process.argv[2]))
  console.log(`built ${path.relative(process.cwd(), b.dir) || '.'}/ in ${b.ms.toFixed(0)} ms: ${b.files.length} files, ${(b.bytes / 1e6).toFixed(1)} MB`)
  for (const f of b.files) console.log(`  ${f}`)
}

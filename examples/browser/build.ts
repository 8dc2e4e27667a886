/**
 * `npm run build:demo`: bundle the browser demo with esbuild into out/demo/ (main.js with tfjs and
 * every backend inside, index.html, style.css, the tfjs wasm binaries next to the bundle for
 * `setWasmPaths`, examples/schedule.json under schedules/, and the MNIST network under mnist/ (weights.ts:
 * the trained one from models/mnist/ when it exists, else an untrained one): a self-contained, offline page.
 */
import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import { prepare, type Info } from './weights.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** what a build wrote */
export interface Built {
  readonly dir: string
  readonly files: ReadonlyArray<string>
  readonly bytes: number
  readonly ms: number
  /** the MNIST network it serves */
  readonly mnist: Info
}

const here = import.meta.dirname
const root = path.join(here, '..', '..')

/** the default output directory: out/demo */
export const defaultDir = path.join(root, 'out', 'demo')

/** the tfjs-backend-wasm binaries (plain, SIMD, threaded SIMD): the backend picks one at run time */
const wasmFiles = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']

/**
 * node:fs and node:path as empty modules: the page imports MnistNet.ts for its conventions (time embedding, one-hot
 * labels, noise schedule), whose save/load helpers (LayersIO, TfjsModel) read files in Node and are never called here
 */
const nodeStubs: esbuild.Plugin = {
  name: 'node-stubs',
  setup: (b) => {
    b.onResolve({ filter: /^node:(fs|path)$/ }, (a) => ({ path: a.path, namespace: 'node-stub' }))
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, () => ({ contents: 'module.exports = {}', loader: 'js' }))
  },
}

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
    plugins: [nodeStubs],
  })
  const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist')
  await Promise.all([
    ...['index.html', 'style.css'].map((f) => fs.copyFile(path.join(here, f), path.join(dir, f))),
    ...wasmFiles.map((f) => fs.copyFile(path.join(wasmDir, f), path.join(dir, f))),
    fs.copyFile(path.join(root, 'examples', 'schedule.json'), path.join(dir, 'schedules', 'schedule.json')),
  ])
  const mnist = await prepare(dir)
  const entries = (await fs.readdir(dir, { recursive: true })).sort()
  const stats = await Promise.all(entries.map((f) => fs.stat(path.join(dir, f))))
  const files = entries.filter((_f, k) => stats[k]!.isFile())
  const bytes = stats.reduce((a, s) => a + (s.isFile() ? s.size : 0), 0)
  return { dir, files, bytes, ms: performance.now() - t0, mnist }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const b = await build(process.argv[2] === undefined ? defaultDir : path.resolve(process.argv[2]))
  console.log(`built ${path.relative(process.cwd(), b.dir) || '.'}/ in ${b.ms.toFixed(0)} ms: ${b.files.length} files, ${(b.bytes / 1e6).toFixed(1)} MB`)
  for (const f of b.files) console.log(`  ${f}`)
  console.log(`MNIST network: ${b.mnist.source}, from ${b.mnist.from} (${b.mnist.params} weights, ${(b.mnist.bytes / 1e6).toFixed(2)} MB)`)
}

/**
 * TensorFlow.js backend selection: wasm (the Node default), cpu, webgl and webgpu (browser only) and
 * tensorflow, the native TensorFlow binding of `@tensorflow/tfjs-node` / `@tensorflow/tfjs-node-gpu`,
 * imported dynamically when a user has installed one (stepwise does not depend on them). Every
 * backend that cannot run here is an error that says why and what to do.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as tf from '@tensorflow/tfjs'
import * as Tfjs from './Tfjs.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** every backend name `--backend` accepts */
export const ALL = ['wasm', 'cpu', 'webgl', 'webgpu', 'tensorflow'] as const

/** a backend name */
export type Backend = (typeof ALL)[number]

/** where the code runs */
export type Platform = 'node' | 'browser'

/** a dynamic import (injectable: tests stand in for packages that are not installed) */
export type Importer = (specifier: string) => Promise<unknown>

/** the packages that register the native 'tensorflow' backend, in order of preference */
export const NATIVE = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const

/** what selecting a backend takes: the tfjs backend name and the packages to import first */
export interface Plan {
  readonly backend: Backend
  /** packages to import, first installed one wins (tensorflow), or all in order */
  readonly imports: ReadonlyArray<string>
  readonly anyOf: boolean
}

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** the platform of this process: Node when `process.versions.node` exists and there is no `window` */
export const platform = (): Platform => (typeof globalThis.process?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined' ? 'node' : 'browser')

/** a `--backend` value (undefined: wasm) */
export const parse = (s: string | undefined): E.Either<string, Backend> => {
  if (s === undefined) return E.right('wasm')
  const b = ALL.find((x) => x === s)
  return b === undefined ? E.left(`--backend: expected one of ${ALL.join(', ')}; got '${s}'`) : E.right(b)
}

/** what a backend needs on a platform, or why it cannot run there */
export const plan = (b: Backend, p: Platform): E.Either<string, Plan> => {
  switch (b) {
    case 'wasm':
      return E.right({ backend: b, imports: ['@tensorflow/tfjs-backend-wasm'], anyOf: false })
    case 'cpu':
      return E.right({ backend: b, imports: [], anyOf: false })
    case 'webgl':
      return p === 'node'
        ? E.left("backend 'webgl' needs a browser with WebGL: Node has no WebGL context; in Node use wasm (default), cpu or tensorflow")
        : E.right({ backend: b, imports: [], anyOf: false })
    case 'webgpu':
      return p === 'node'
        ? E.left("backend 'webgpu' needs a browser with WebGPU: Node has no GPU device for tfjs; in Node use wasm (default), cpu or tensorflow")
        : E.right({ backend: b, imports: ['@tensorflow/tfjs-backend-webgpu'], anyOf: false })
    case 'tensorflow':
      return p === 'browser'
        ? E.left("backend 'tensorflow' is the native TensorFlow binding for Node (@tensorflow/tfjs-node); in the browser use webgpu, webgl, wasm or cpu")
        : E.right({ backend: b, imports: NATIVE, anyOf: true })
  }
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** whether an import error says `specifier` itself is not installed (not a failure inside an installed package) */
export const isMissing = (e: unknown, specifier: string): boolean => {
  if (typeof e !== 'object' || e === null) return false
  const code = (e as { code?: unknown }).code
  const msg = e instanceof Error ? e.message : String(e)
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && (msg.includes(`'${specifier}'`) || msg.includes(`"${specifier}"`))
}

/** the message for a native backend that is not installed */
export const notInstalled = (b: Backend = 'tensorflow'): string =>
  `backend '${b}' needs @tensorflow/tfjs-node (npm install @tensorflow/tfjs-node@${tf.version.tfjs}, the version of @tensorflow/tfjs; ` + `or @tensorflow/tfjs-node-gpu with CUDA); it is not installed`

/**
 * import what a plan needs: every package in order, or (anyOf) the first installed one; resolves to the
 * packages imported; rejects with `notInstalled` when none of anyOf is installed, or with the cause when
 * an installed package fails to load
 */
export const load = async (pl: Plan, importer: Importer = (s) => import(s)): Promise<ReadonlyArray<string>> => {
  if (!pl.anyOf) {
    for (const s of pl.imports) await importer(s)
    return pl.imports
  }
  for (const s of pl.imports) {
    try {
      await importer(s)
      return [s]
    } catch (e) {
      if (isMissing(e, s)) continue
      throw new Error(`backend '${pl.backend}': ${s} is installed but failed to load: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  throw new Error(notInstalled(pl.backend))
}

/**
 * select a backend: check the platform, import its packages, set it and await `tf.ready()`; wasm, cpu,
 * webgl and webgpu go through `Tfjs.init` (fused kernels), tensorflow is set here
 */
export const select = async (b: Backend, o: { readonly importer?: Importer; readonly platform?: Platform } = {}): Promise<void> => {
  const pl = plan(b, o.platform ?? platform())
  if (E.isLeft(pl)) throw new Error(pl.left)
  const loaded = await load(pl.right, o.importer)
  if (b !== 'tensorflow') return Tfjs.init(b)
  const ok = await tf.setBackend('tensorflow').catch(() => false)
  await tf.ready()
  if (!ok || tf.getBackend() !== 'tensorflow')
    throw new Error(
      `backend 'tensorflow': ${loaded.join(', ')} loaded but its backend is not registered with this @tensorflow/tfjs (${tf.version.tfjs}); ` +
        `install the matching version: npm install ${loaded[0] ?? '@tensorflow/tfjs-node'}@${tf.version.tfjs}`,
    )
}

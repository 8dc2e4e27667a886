/**
 * `npm run demo [-- SCHEDULE.json …] [--port N]`: build the demo if out/demo/ is missing (or older than
 * the MNIST network in models/mnist/, e.g. when the trained weights arrived after the last build), serve it
 * on 127.0.0.1 (static files only, no network access needed) and print the URL. A bad --port, a busy
 * port or a missing or invalid schedule file is a one-line error (exit 2 for the command line, 1 otherwise). Schedule files
 * given on the command line are served under /schedules/ and the first one is opened by the URL
 * (`?schedule=schedules/NAME.json`), e.g. a schedule found by `stepwise search`.
 */
import * as fs from 'node:fs/promises'
import * as http from 'node:http'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import * as Codec from '../../src/schedule/Codec.ts'
import { build, defaultDir } from './build.ts'
import { repositoryNetwork } from './weights.ts'

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** a running server */
export interface Server {
  readonly url: string
  readonly close: () => Promise<void>
}

const types: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** the file under `root` a request path names, or undefined when it would leave `root` */
export const resolve = (root: string, urlPath: string): string | undefined => {
  const rel = ((): string | undefined => {
    try {
      return decodeURIComponent(urlPath.split('?')[0]!.split('#')[0]!)
    } catch {
      return undefined
    }
  })()
  if (rel === undefined || rel.includes('\0')) return undefined
  const file = path.resolve(root, `.${rel.endsWith('/') ? `${rel}index.html` : rel}`)
  return file === root || file.startsWith(root + path.sep) ? file : undefined
}

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** serve `root` on host:port (port 0: any free one); GET and HEAD only, no caching, no directory listings */
export const serve = (root: string, port = 0, host = '127.0.0.1'): Promise<Server> => {
  const dir = path.resolve(root)
  const server = http.createServer(async (req, res) => {
    const file = req.method === 'GET' || req.method === 'HEAD' ? resolve(dir, req.url ?? '/') : undefined
    const body = file === undefined ? undefined : await fs.readFile(file).catch(() => undefined)
    if (body === undefined) {
      res.writeHead(file === undefined ? 400 : 404, { 'content-type': 'text/plain' }).end(file === undefined ? 'bad request\n' : 'not found\n')
      return
    }
    res.writeHead(200, { 'content-type': types[path.extname(file!)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  return new Promise((ok, fail) => {
    server.once('error', fail)
    server.listen(port, host, () => {
      const a = server.address()
      ok({ url: `http://${host}:${typeof a === 'object' && a !== null ? a.port : port}/`, close: () => new Promise<void>((done) => server.close(() => done())) })
    })
  })
}

/** the command line: schedule files to serve and the port */
export interface Args {
  readonly port: number
  readonly schedules: ReadonlyArray<string>
}

/** a problem with the command line (exit code 2) or with the environment (exit code 1) */
export class DemoError extends Error {
  constructor(
    message: string,
    readonly code: 1 | 2,
  ) {
    super(message)
  }
}

/** a port: an integer in 0–65535 (0 = any free one), or a usage error naming where it came from */
const portOf = (s: string, from: string): number => {
  const n = Number(s)
  if (!/^\d+$/.test(s.trim()) || !Number.isInteger(n) || n > 65535) throw new DemoError(`${from}: expected a port number in 0–65535 (0 = any free port), got '${s}'`, 2)
  return n
}

/** parse `[SCHEDULE.json …] [--port N | --port=N]` (default: $PORT, else 8080) */
export const parseArgs = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>> = process.env): Args => {
  const schedules: string[] = []
  let port: number | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--port' || a.startsWith('--port=')) {
      const v = a === '--port' ? args[++i] : a.slice('--port='.length)
      if (v === undefined) throw new DemoError('--port needs a value: --port N (0 = any free port)', 2)
      port = portOf(v, '--port')
    } else if (a.startsWith('-')) throw new DemoError(`unknown flag ${a}; usage: npm run demo [-- SCHEDULE.json …] [--port N]`, 2)
    else schedules.push(a)
  }
  return { port: port ?? (env['PORT'] === undefined ? 8080 : portOf(env['PORT'], 'PORT')), schedules }
}

/** every schedule file exists and is a valid schedule document (else the file, and the issues or why it cannot be read) */
export const checkSchedules = async (files: ReadonlyArray<string>): Promise<void> => {
  for (const f of files) {
    const text = await fs.readFile(f, 'utf8').catch((e: unknown) => {
      throw new DemoError(`cannot read schedule file ${f}: ${e instanceof Error ? e.message : String(e)}`, 1)
    })
    const d = Codec.parseJson(text)
    if (E.isLeft(d)) throw new DemoError(`${f} is not a valid schedule document:\n${Codec.format(d.left)}`, 1)
  }
}

/** listen, with the reason and the fix when the port cannot be used */
const listen = async (port: number): Promise<Server> => {
  try {
    return await serve(defaultDir, port)
  } catch (e) {
    const code = (e as { code?: unknown }).code
    if (code === 'EADDRINUSE') throw new DemoError(`port ${port} is in use (another server, perhaps an earlier 'npm run demo'?); pass --port N, or --port 0 for any free port`, 1)
    if (code === 'EACCES') throw new DemoError(`port ${port} needs privileges; pass --port N with N above 1023, or --port 0`, 1)
    throw e
  }
}

const mtime = (f: string): Promise<number | undefined> =>
  fs.stat(f).then(
    (s) => s.mtimeMs,
    () => undefined,
  )

/** why out/demo/ needs a build: missing, or its MNIST network is older than the repository's; undefined when it is current */
export const staleBuild = async (dir: string = defaultDir): Promise<string | undefined> => {
  if ((await mtime(path.join(dir, 'main.js'))) === undefined) return 'missing'
  const built = await mtime(path.join(dir, 'mnist', 'info.json'))
  if (built === undefined) return 'it has no MNIST network'
  const net = await repositoryNetwork()
  const changed = net === undefined ? undefined : await mtime(net)
  return changed !== undefined && changed > built ? `the MNIST network in ${path.relative(process.cwd(), path.dirname(net!)) || '.'} is newer` : undefined
}

/** `npm run demo`: check the arguments and schedule files, listen, build out/demo/ when missing or stale, print the URL */
export const main = async (args: ReadonlyArray<string>): Promise<Server> => {
  const o = parseArgs(args)
  await checkSchedules(o.schedules)
  const srv = await listen(o.port)
  try {
    const why = await staleBuild()
    if (why !== undefined) console.log(`built out/demo/ (${why}) in ${(await build()).ms.toFixed(0)} ms`)
    await fs.mkdir(path.join(defaultDir, 'schedules'), { recursive: true })
    for (const s of o.schedules) await fs.copyFile(s, path.join(defaultDir, 'schedules', path.basename(s)))
  } catch (e) {
    await srv.close()
    throw e
  }
  const query = o.schedules.length === 0 ? '' : `?schedule=schedules/${encodeURIComponent(path.basename(o.schedules[0]!))}`
  console.log(`stepwise demo: ${srv.url}${query}`)
  console.log('(Ctrl-C to stop; `npm run build:demo` after changing the sources)')
  return srv
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(`stepwise demo: ${e instanceof Error ? e.message : String(e)}`)
    process.exit(e instanceof DemoError ? e.code : 1)
  })
}

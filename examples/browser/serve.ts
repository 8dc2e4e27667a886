/**
 * `npm run demo [-- SCHEDULE.json …] [--port N]`: build the demo if out/demo/ is missing, serve it
 * on 127.0.0.1 (static files only, no network access needed) and print the URL. Schedule files
 * given on the command line are served under /schedules/ and the first one is opened by the URL
 * (`?schedule=schedules/NAME.json`), e.g. a schedule found by `stepwise search`.
 */
import * as fs from 'node:fs/promises'
import * as http from 'node:http'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { build, defaultDir } from './build.ts'

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

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = process.argv.slice(2)
  const portAt = args.indexOf('--port')
  const port = portAt >= 0 ? Number(args[portAt + 1]) : Number(process.env['PORT'] ?? 8080)
  const schedules = args.filter((_, i) => portAt < 0 || (i !== portAt && i !== portAt + 1))
  const exists = await fs.stat(path.join(defaultDir, 'main.js')).then(
    () => true,
    () => false,
  )
  if (!exists) console.log(`built out/demo/ in ${(await build()).ms.toFixed(0)} ms`)
  for (const s of schedules) await fs.copyFile(s, path.join(defaultDir, 'schedules', path.basename(s)))
  const srv = await serve(defaultDir, port)
  const query = schedules.length === 0 ? '' : `?schedule=schedules/${encodeURIComponent(path.basename(schedules[0]!))}`
  console.log(`stepwise demo: ${srv.url}${query}`)
  console.log('(Ctrl-C to stop; `npm run build:demo` after changing the sources)')
}

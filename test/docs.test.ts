/**
 * Docs that run: every TypeScript snippet in README.md and docs/*.md is a program that this test
 * type-checks and runs, so the documentation cannot drift from the code (docs/writing-docs.md).
 *
 * The convention, by the fence's info string:
 *
 *   ```ts                   a program on its own. It imports the package as a user does: 'stepwise',
 *                           'stepwise/tfjs', or a source file 'stepwise/src/….ts'; the first two are
 *                           rewritten to 'stepwise/src/index.ts' / 'stepwise/src/tfjs.ts' (the sources of
 *                           the built entry points, so no build is needed) and all of them resolve through
 *                           the package's self-reference. Relative paths (imports and files) are relative to
 *                           the repository root: the program is written there as `.doctest-<pid>-<doc>-<n>.ts`
 *                           (git-ignored, removed afterwards) and runs with the root as its working directory.
 *   ```ts continues         appended to the previous snippet of the same file: the two (or more) run as one
 *                           program, so a later snippet may use the names an earlier one defined. The
 *                           earlier snippet is not run again on its own.
 *   ```ts skip: <reason>    shown and type-checked, not run; the reason is required and printed. Keep these
 *                           rare: a snippet that cannot run here (e.g. it needs a browser) says why.
 *
 * Every program must type-check (tsc with the project's options, unused names allowed), exit with code 0
 * within TIMEOUT ms under `node --import tsx`, and print at least one line to stdout: a snippet shows a
 * result. Programs run two at a time; the whole file takes about 30–60 s on 2 shared cores.
 */
import * as assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, test } from 'node:test'

const root = path.join(import.meta.dirname, '..')
const TIMEOUT = 90_000
const POOL = Math.max(1, Math.min(2, os.availableParallelism()))

/** a fenced TypeScript snippet: its document, first line (1-based) and info after `ts` */
interface Snippet {
  readonly doc: string
  readonly line: number
  readonly info: string
  readonly code: string
}

/** a program: one snippet, or a snippet and its continuations */
interface Chunk {
  readonly doc: string
  readonly lines: ReadonlyArray<number>
  readonly code: string
}

/** the ```ts / ```typescript fences of a markdown text */
const snippets = (doc: string, text: string): ReadonlyArray<Snippet> => {
  const out: Snippet[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)```(ts|typescript)\b(.*)$/.exec(lines[i]!)
    if (!m) continue
    const indent = m[1]!.length
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[j++]!.slice(indent))
    assert.ok(j < lines.length, `${doc}:${i + 1}: unclosed code fence`)
    out.push({ doc, line: i + 1, info: m[3]!.trim(), code: body.join('\n') + '\n' })
    i = j
  }
  return out
}

/** the programs of a document's snippets (continuations joined) and its skipped snippets */
const programs = (ss: ReadonlyArray<Snippet>): { readonly run: ReadonlyArray<Chunk>; readonly skipped: ReadonlyArray<Snippet & { readonly reason: string }> } => {
  const run: Chunk[] = []
  const skipped: Array<Snippet & { readonly reason: string }> = []
  let last: Snippet | undefined
  for (const s of ss) {
    const where = `${s.doc}:${s.line}`
    if (s.info.startsWith('skip')) {
      const reason = /^skip:\s*(\S.*)$/.exec(s.info)?.[1]
      assert.ok(reason, `${where}: a skipped snippet states why: \`\`\`ts skip: <reason>`)
      skipped.push({ ...s, reason })
    } else if (s.info === 'continues') {
      const prev = run[run.length - 1]
      assert.ok(prev && last && !last.info.startsWith('skip') && prev.doc === s.doc, `${where}: 'continues' needs a runnable snippet before it in the same file`)
      run[run.length - 1] = { doc: s.doc, lines: [...prev.lines, s.line], code: prev.code + s.code }
    } else {
      assert.equal(s.info, '', `${where}: unknown snippet header '${s.info}' (use nothing, 'continues' or 'skip: <reason>')`)
      run.push({ doc: s.doc, lines: [s.line], code: s.code })
    }
    last = s
  }
  return { run, skipped }
}

/** 'stepwise' and 'stepwise/tfjs' → their source entry points (self-reference through `exports`' ./src/*) */
const rewrite = (code: string): string => code.replace(/(['"])stepwise(\/tfjs)?\1/g, (_, q: string, sub: string | undefined) => `${q}stepwise/src/${sub ? 'tfjs' : 'index'}.ts${q}`)

const docs = [
  'README.md',
  ...fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]
const all = docs.map((d) => programs(snippets(d, fs.readFileSync(path.join(root, d), 'utf8'))))
const chunks = all.flatMap((p) => p.run)
const skipped = all.flatMap((p) => p.skipped)

const files = chunks.map((c) => {
  const name = `.doctest-${process.pid}-${c.doc.replace(/[/.]/g, '_')}-${c.lines[0]}.ts`
  fs.writeFileSync(path.join(root, name), `// ${c.doc} lines ${c.lines.join(', ')} (written by test/docs.test.ts)\n${rewrite(c.code)}`)
  return name
})
const skippedFiles = skipped.map((s) => {
  const name = `.doctest-${process.pid}-${s.doc.replace(/[/.]/g, '_')}-${s.line}.ts`
  fs.writeFileSync(path.join(root, name), `// ${s.doc} line ${s.line}, skipped: type-checked only (written by test/docs.test.ts)\n${rewrite(s.code)}`)
  return name
})
const tsconfig = `.doctest-${process.pid}-tsconfig.json`
fs.writeFileSync(path.join(root, tsconfig), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noUnusedLocals: false, noUnusedParameters: false }, include: [...files, ...skippedFiles] }))
after(() => {
  for (const f of [...files, ...skippedFiles, tsconfig]) fs.rmSync(path.join(root, f), { force: true })
})

/** the end of a program's output, long lines cut (tfjs' wasm glue prints its whole source on an uncaught error) */
const tail = (s: string): string =>
  s
    .split('\n')
    .map((l) => (l.length > 300 ? `${l.slice(0, 300)} …` : l))
    .slice(-60)
    .join('\n')

/** run a command with the root as cwd; resolves with its exit code and output (killed after `timeout`) */
const exec = (cmd: string, args: ReadonlyArray<string>, timeout: number): Promise<{ readonly code: number | null; readonly out: string; readonly err: string; readonly ms: number }> =>
  new Promise((resolve) => {
    const t0 = Date.now()
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const timer = setTimeout(() => {
      err += `\n(killed after ${timeout} ms: the program did not exit; close what it opened)`
      p.kill('SIGKILL')
    }, timeout)
    p.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err, ms: Date.now() - t0 })
    })
  })

test('the docs have TypeScript snippets, each skip with a reason', () => {
  assert.ok(chunks.length >= 8, `only ${chunks.length} programs found`)
  console.log(`${chunks.length} programs from ${chunks.reduce((n, c) => n + c.lines.length, 0)} snippets, ${skipped.length} skipped`)
  for (const s of skipped) console.log(`skipped ${s.doc}:${s.line}: ${s.reason}`)
  assert.ok(skipped.length <= 2, `${skipped.length} skipped snippets: keep skips rare`)
})

/** the text files of the folders the docs and comments live in */
const sources = (dir: string): ReadonlyArray<string> =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name)
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sources(rel)
    return /\.(ts|mjs|md|json)$/.test(e.name) ? [rel] : []
  })

/** the name of the external math notes the code once cited (spelled in parts so that this file does not cite them) */
const OLD_NOTES = ['solver', 'math'].join('-')

test('every docs/math.md#anchor cited in the code, laws, tests and docs exists (and nothing cites the notes that are not in the repository)', () => {
  const anchors = new Set([...fs.readFileSync(path.join(root, 'docs/math.md'), 'utf8').matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]!))
  const files = ['README.md', ...['src', 'laws', 'test', 'docs', 'examples', 'bench', 'scripts'].flatMap(sources)]
  const missing: string[] = []
  let cited = 0
  for (const f of files) {
    fs.readFileSync(path.join(root, f), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        assert.ok(!line.includes(OLD_NOTES), `${f}:${i + 1} cites ${OLD_NOTES}, which is not in the repository; cite docs/math.md#anchor`)
        const own = f === 'docs/math.md'
        if (!own && !line.includes('math.md#')) return
        // docs/math.md#a, math.md#a (links from docs/), and the shorthand ", #a" / "[#a]" / "(#a)" after such a citation
        for (const m of line.matchAll(/math\.md#([a-z0-9-]+)|(?:, |\[|\]\()#([a-z0-9-]+)/g)) {
          const a = m[1] ?? m[2]!
          if (a === 'anchor' || a === 'a') continue // the placeholder in prose like this file's
          cited++
          if (!anchors.has(a)) missing.push(`${f}:${i + 1}: #${a}`)
        }
      })
  }
  assert.deepEqual(missing, [], `anchors not in docs/math.md (its anchors: ${[...anchors].join(', ')})`)
  assert.ok(cited > 50, `only ${cited} citations found`)
})

test('doc snippets', { concurrency: POOL }, async (t) => {
  const jobs = [
    t.test('every snippet type-checks', async () => {
      const r = await exec(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', tsconfig, '--noEmit'], TIMEOUT)
      // .doctest-<pid>-docs_x_md-<fence line>.ts(<line>,<col>) → docs/x.md:<line in the document> (exact for a snippet on its own)
      const named = r.out.replace(
        /\.doctest-\d+-([^-]+)-(\d+)\.ts\((\d+),(\d+)\)/g,
        (_, d: string, l: string, k: string, col: string) => `${d.replace(/_md$/, '.md').replace(/_/g, '/')}:${Number(l) + Number(k) - 1}:${col}`,
      )
      assert.equal(r.code, 0, `tsc over the doc snippets:\n${named}${r.err}`)
    }),
    ...chunks.map((c, i) =>
      t.test(`${c.doc}:${c.lines.join('+')} runs`, async () => {
        const r = await exec(process.execPath, ['--import', 'tsx', files[i]!], TIMEOUT)
        assert.equal(r.code, 0, `${c.doc} snippet at line ${c.lines.join(' + ')} exited with ${r.code}:\n${tail(r.out)}\n${tail(r.err)}`)
        assert.ok(r.out.trim().length > 0, `${c.doc} snippet at line ${c.lines.join(' + ')} printed nothing: a snippet shows its result`)
        console.log(`${c.doc}:${c.lines.join('+')} (${(r.ms / 1000).toFixed(1)} s): ${r.out.trim().split('\n').slice(0, 2).join(' / ')}`)
      }),
    ),
  ]
  await Promise.all(jobs)
})

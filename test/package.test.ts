/**
 * The package as npm ships it: tarball contents, typed ESM entry points backed by the tsc emit
 * (dist/, relative imports rewritten to .js), the bin, LICENSE/CHANGELOG, and docs/API.md in sync
 * with the doc comments.
 */
import * as assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'
import * as _ from '../scripts/docs.ts'

const root = path.join(import.meta.dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  readonly exports: Readonly<Record<string, string | Readonly<Record<string, string>>>>
  readonly files: ReadonlyArray<string>
  readonly types: string
  readonly bin: Readonly<Record<string, string>>
  readonly scripts: Readonly<Record<string, string>>
  readonly license: string
}

/** dist/X.js or dist/X.d.ts → src/X.ts */
const sourceOf = (target: string): string => target.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$|\.js$/, '.ts')

test('npm pack: src, bin, README, LICENSE, CHANGELOG and the diffusers example ship; tests, laws, golden data and scratch do not', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', shell: process.platform === 'win32' })
  assert.equal(r.status, 0, r.stderr)
  const files = (JSON.parse(r.stdout) as ReadonlyArray<{ readonly files: ReadonlyArray<{ readonly path: string }> }>)[0]!.files.map((f) => f.path)
  for (const f of [
    'package.json',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'bin/stepwise.js',
    'src/index.ts',
    'src/tfjs.ts',
    'src/interop/Diffusers.ts',
    'docs/API.md',
    'examples/diffusers/scheduler_config.json',
  ])
    assert.ok(files.includes(f), `${f} is missing from the tarball`)
  const forbidden = /^(test|laws|bench|scratch|out|node_modules|scripts|\.ci)\/|golden|\.law\.ts$|\.test\.ts$|\.tmp$|^tsconfig/
  const bad = files.filter((f) => forbidden.test(f))
  assert.deepEqual(bad, [], `should not ship: ${bad.join(', ')}`)
  // dist/ ships when built (npm pack and npm publish build it first: prepack)
  assert.ok(pkg.files.includes('dist/'))
  assert.match(pkg.scripts['prepack'] ?? '', /npm run build/)
  if (fs.existsSync(path.join(root, 'dist')))
    for (const t of Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [] : Object.values(e))))
      assert.ok(files.includes(t.replace(/^\.\//, '')), `${t} (an export target) is not in the tarball`)
  assert.equal(pkg.license, 'MIT')
  assert.match(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8'), /^MIT License/)
  assert.match(fs.readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8'), /^## 0\.1\.0/m)
})

test('entry points: `stepwise` and `stepwise/tfjs` are typed ESM exports of compiled sources that exist', () => {
  for (const sub of ['.', './tfjs']) {
    const e = pkg.exports[sub]
    assert.ok(typeof e === 'object' && e !== undefined, `exports["${sub}"] has conditions`)
    const keys = Object.keys(e)
    assert.equal(keys[0], 'types', `exports["${sub}"]: "types" comes first`)
    assert.match(e['types']!, /^\.\/dist\/.*\.d\.ts$/)
    assert.match(e['import']!, /^\.\/dist\/.*\.js$/)
    assert.equal(sourceOf(e['types']!), sourceOf(e['import']!))
    assert.ok(fs.existsSync(path.join(root, sourceOf(e['import']!))), `${sourceOf(e['import']!)} exists`)
  }
  assert.equal(pkg.types, (pkg.exports['.'] as Readonly<Record<string, string>>)['types'])
  // the build config emits src/ to dist/ with declarations and .ts → .js specifiers
  const cfg = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)) })!
  assert.equal(cfg.options.outDir, path.join(root, 'dist'))
  assert.equal(cfg.options.declaration, true)
  assert.equal(cfg.options.rewriteRelativeImportExtensions, true)
  assert.ok(cfg.options.noEmit !== true)
  assert.ok(cfg.fileNames.includes(path.join(root, 'src/index.ts').split(path.sep).join('/')) || cfg.fileNames.some((f) => f.endsWith('src/index.ts')))
  // relative specifiers are literal '.ts' paths, which the emit rewrites to '.js' (plain Node imports dist/ without tsx)
  const left: string[] = []
  for (const f of cfg.fileNames) {
    const text = fs.readFileSync(f, 'utf8')
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) if (!m[1]!.endsWith('.ts')) left.push(`${path.relative(root, f)}: ${m[1]}`)
  }
  assert.deepEqual(left, [], 'relative specifiers without .ts')
  for (const entry of ['src/index.ts', 'src/tfjs.ts']) {
    const js = ts.transpileModule(fs.readFileSync(path.join(root, entry), 'utf8'), { compilerOptions: cfg.options, fileName: entry }).outputText
    const specs = [...js.matchAll(/from\s*["']([^"']+)["']/g)].map((m) => m[1]!)
    assert.ok(specs.length > 0 && specs.every((x) => x.endsWith('.js')), `${entry} emits ${specs.join(', ')}`)
  }
})

test('bin: the stepwise bin runs the TypeScript sources through tsx (a runtime dependency)', () => {
  const bin = fs.readFileSync(path.join(root, pkg.bin['stepwise']!), 'utf8')
  assert.match(bin, /^#!\/usr\/bin\/env node/)
  assert.match(bin, /tsx\/esm\/api/)
  assert.match(bin, /\.\.\/src\/cli\/main\.ts/)
  const deps = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies
  assert.ok('tsx' in deps, 'tsx is a dependency, so the bin works after npm ci / npm install')
})

test('docs/API.md is what `npm run docs` writes, and the interop/package modules document every export', (t) => {
  const mods = _.modules(root)
  const current = fs.readFileSync(path.join(root, 'docs/API.md'), 'utf8')
  assert.equal(current, _.render(mods), 'docs/API.md is out of date: run npm run docs')
  const missing = _.undocumented(mods)
  if (missing.length > 0) t.diagnostic(`exports without a doc comment: ${missing.join(', ')}`)
  const mine = ['src/core/Betas.ts', 'src/interop/Diffusers.ts', 'src/interop/Interop.ts', 'src/interop/Scheduler.ts', 'src/run/TfjsModel.ts', 'src/run/Backends.ts', 'src/tfjs.ts', 'src/index.ts']
  assert.deepEqual(
    missing.filter((m) => mine.some((f) => m.startsWith(`${f}:`))),
    [],
  )
  for (const f of mine)
    assert.ok(
      mods.some((m) => m.file === f),
      `${f} is in the API docs`,
    )
})

import { test } from 'node:test'
import * as assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as Plot from '../src/interop/Plot.ts'
import * as Solvers from '../src/solvers/index.ts'
import * as _ from '../src/cli/compare.ts'

/** collects what the command prints */
const capture = () => {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err }
}

/** tags balance (every opened element is closed in order), no stray '&' or '<' in text */
const wellFormed = (svg: string): boolean => {
  const stack: string[] = []
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) return false
    } else stack.push(m[2]!)
  }
  const text = svg.replace(/<[^>]*>/g, '')
  return stack.length === 0 && !/&(?!amp;|lt;|gt;|quot;|#39;)/.test(text) && !text.includes('<')
}

test('compare main: small run into a temp dir writes a well-formed SVG with every solver label, exit code 0', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-compare-'))
  try {
    const file = path.join(dir, 'nested', 'c.svg')
    const ids = ['ddim', 'heun', 'dpmpp-2m', 'unipc-bh2-3']
    const c = capture()
    const code = await _.main(['--out', file, '--rows', '8', '--nfe', '1,5,10', '--solvers', ids.join(',')], c.io)
    assert.equal(code, 0, c.err.join('\n'))
    const svg = fs.readFileSync(file, 'utf8')
    assert.ok(svg.startsWith('<svg'), svg.slice(0, 40))
    assert.ok(svg.trimEnd().endsWith('</svg>'))
    assert.ok(wellFormed(svg))
    for (const id of ids) assert.ok(svg.includes(`>${id}</text>`), `legend entry ${id}`)
    for (const id of ids) assert.ok(svg.includes(Plot.escape(Solvers.byId(id)!.label)), `tooltip of ${id}`)
    // atomic write: only the final file is left in the directory
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['c.svg'])
    // heun needs ≥ 2 evaluations: NFE 1 is skipped and reported, not fatal
    const printed = c.out.join('\n')
    assert.match(printed, /n\/a: heun at NFE 1: nfe must be an integer ≥ 2/)
    assert.match(printed, /^ddim +time_uniform +\d\.\d\de-?\d+ +\d\.\d\de-?\d+ +\d\.\d\de-?\d+$/m)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('compare main: bad flags and unknown solvers exit 2 with a clear message; --help exits 0', async () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
    [['--bogus'], /unknown flag '--bogus'/],
    [['--solvers', 'ddim,nope'], /unknown solver 'nope'/],
    [['--rows', '0'], /--rows: expected a positive integer, got '0'/],
    [['--nfe', '5,x'], /--nfe: expected a positive integer, got 'x'/],
    [['--out'], /--out: missing value/],
    [['extra'], /unexpected argument 'extra'/],
  ]
  for (const [args, re] of cases) {
    const c = capture()
    assert.equal(await _.main(args, c.io), 2, args.join(' '))
    assert.match(c.err.join('\n'), re)
  }
  const c = capture()
  assert.equal(await _.main(['--help'], c.io), 0)
  assert.match(c.out.join('\n'), /usage: stepwise compare/)
})

test('compare: higher-order solvers beat DDIM at NFE 20 on the default problems by at least 4×', () => {
  const higher = ['dpmpp-2m', 'dpmpp-3m', 'unipc-bh2-3', 'deis-tab3'].map((id) => Solvers.byId(id)!)
  const ddim = Solvers.byId('ddim')!
  for (const p of _.defaultProblems()) {
    const base = _.evaluate(p)(ddim, 20)
    assert.equal(base._tag, 'ok')
    if (base._tag !== 'ok') continue
    for (const n of higher) {
      const c = _.evaluate(p)(n, 20)
      assert.equal(c._tag, 'ok', `${n.id} on ${p.name}`)
      // measured ratios 0.06–0.14 (2-D) and 0.03–0.13 (16-D), 256 rows, seeds as in defaultProblems
      if (c._tag === 'ok') assert.ok(c.error < base.error / 4, `${n.id} on ${p.name}: ${c.error} vs DDIM ${base.error}`)
    }
  }
})

test('Plot.loglog: escapes labels, drops non-positive points, marks decades', () => {
  const svg = Plot.loglog({
    title: 'a < b & c',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      {
        label: 's<1>',
        points: [
          [1, 1e-3],
          [10, 1e-1],
          [100, 0],
          [1000, 10],
        ],
      },
      {
        label: "it's",
        points: [
          [2, 2],
          [20, Number.NaN],
        ],
      },
    ],
  })
  assert.ok(svg.startsWith('<svg') && wellFormed(svg))
  assert.ok(svg.includes('a &lt; b &amp; c') && svg.includes('s&lt;1&gt;') && svg.includes('it&#39;s'))
  assert.ok(!svg.includes('NaN') && !svg.includes('Infinity'))
  // 10⁻³: the base and a smaller raised exponent as two <text>s (no tspan offsets, no superscript glyphs)
  assert.ok(svg.includes('>100</text>') && /<text x="[\d.]+" y="[\d.]+">10<\/text><text x="[\d.]+" y="[\d.]+" font-size="9">−3<\/text>/.test(svg))
  assert.ok(!svg.includes('<tspan'))
})

test('Plot.stack: each chart is a translated group (no nested <svg>, no clip paths), stacked by height', () => {
  const spec = (title: string): Plot.Spec => ({
    title,
    xLabel: 'x',
    yLabel: 'y',
    series: [
      {
        label: 'a',
        points: [
          [1, 1],
          [10, 0.1],
        ],
      },
    ],
  })
  const svg = Plot.stack([spec('one'), spec('two'), spec('three')])
  assert.ok(wellFormed(svg))
  assert.equal(svg.match(/<svg/g)?.length, 1, 'one root <svg>')
  assert.ok(!svg.includes('clip-path') && !svg.includes('viewBox="0 0 720 440"'))
  assert.deepEqual(
    [...svg.matchAll(/<g class="panel" transform="translate\(0 (\d+)\)">/g)].map((m) => Number(m[1])),
    [0, 440, 880],
  )
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="720" height="1320" viewBox="0 0 720 1320"'))
  // filled shapes carry stroke="none" (ImageMagick otherwise outlines them)
  assert.ok([...svg.matchAll(/<(circle|rect)[^>]*fill="[^"n][^"]*"[^>]*>/g)].every((m) => m[0].includes('stroke')))
})

/**
 * Render the rows bench/mnist.ts wrote (incrementally, so a cut-short run still renders) as markdown tables:
 * FID, class accuracy and teacher RMS per solver × NFE, one table per guidance weight.
 *
 *   node --import tsx bench/mnist-table.ts bench/mnist-w1.json [more.json …]
 */
import * as fs from 'node:fs'

/** one cell of bench/mnist.ts (its JSON rows) */
export interface Row {
  readonly w: number
  readonly solver: string
  readonly nfe: number
  readonly fid: number
  readonly accuracy: number
  readonly teacherRms: number
  readonly seconds: number
}

const files = process.argv.slice(2)
const all = files.flatMap((f) =>
  (JSON.parse(fs.readFileSync(f, 'utf8')) as { n: number; rows: ReadonlyArray<Row> }).rows.map((r) => ({ ...r, n: (JSON.parse(fs.readFileSync(f, 'utf8')) as { n: number }).n })),
)
for (const w of [...new Set(all.map((r) => r.w))]) {
  const rows = all.filter((r) => r.w === w)
  const nfes = [...new Set(rows.map((r) => r.nfe))].sort((a, b) => a - b)
  const solvers = [...new Set(rows.map((r) => r.solver))]
  const cell = (id: string, k: number, f: (r: Row) => string) => {
    const r = rows.find((x) => x.solver === id && x.nfe === k)
    return r === undefined ? '–' : Number.isFinite(r.fid) ? f(r) : 'fails'
  }
  console.log(`\nw = ${w} (${rows[0]!.n} samples per cell): FID / classifier accuracy / RMS to the teacher\n`)
  console.log(`| solver | ${nfes.map((k) => `NFE ${k}`).join(' | ')} |\n|---|${nfes.map(() => '---').join('|')}|`)
  for (const id of solvers)
    console.log(
      `| ${id} | ${nfes.map((k) => cell(id, k, (r) => `${r.fid < 1000 ? r.fid.toFixed(1) : r.fid.toExponential(1)} / ${(100 * r.accuracy).toFixed(0)} % / ${r.teacherRms.toExponential(1)}`)).join(' | ')} |`,
    )
  const best = nfes.map((k) => {
    const c = rows.filter((r) => r.nfe === k && Number.isFinite(r.fid)).sort((a, b) => a.fid - b.fid)[0]
    return c === undefined ? '–' : `${c.solver} ${c.fid.toFixed(1)}`
  })
  console.log(`| **best FID** | ${best.join(' | ')} |`)
}

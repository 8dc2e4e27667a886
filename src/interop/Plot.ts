/**
 * A dependency-free SVG writer for log-log line charts (error against NFE): series of (x, y) points
 * with labels, decade ticks on both axes, a legend and a title. Pure functions from a spec to text.
 *
 * The markup keeps to what every renderer draws alike (browsers, librsvg's rsvg-convert, ImageMagick's own
 * MSVG renderer): panels are <g transform="translate(…)"> groups, not nested <svg> viewports (ImageMagick
 * draws those all at the origin); nothing needs clipping (every point lies inside the padded domain, and
 * ImageMagick inverts clip paths); a decade's exponent is a second, smaller <text>, not a <tspan dy> (which
 * ImageMagick ignores) nor a Unicode superscript (its fonts lack ⁻); filled shapes say stroke="none".
 */

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** one line: its legend label and its points; points with x ≤ 0, y ≤ 0 or a non-finite coordinate break the line */
export interface Series {
  readonly label: string
  readonly points: ReadonlyArray<readonly [number, number]>
  /** tooltip text for the line (e.g. the solver's full name) */
  readonly note?: string
}

/** a log-log chart */
export interface Spec {
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
  /** extra labelled ticks on the x axis (e.g. the NFE budgets) */
  readonly xTicks?: ReadonlyArray<number>
  /** size of the whole chart, legend included (default 720 × 440) */
  readonly width?: number
  readonly height?: number
}

// -------------------------------------------------------------------------------------------------
// utils
// -------------------------------------------------------------------------------------------------

/** the Tableau 10 palette */
const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac']
const dashes = ['', '6 3', '2 2', '8 3 2 3']
const shapes = ['circle', 'square', 'triangle', 'diamond'] as const

/** XML text/attribute escape: & < > " ' */
export const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'))

const n2 = (v: number): string => (Math.round(v * 100) / 100).toString()

const valid = ([x, y]: readonly [number, number]): boolean => Number.isFinite(x) && Number.isFinite(y) && x > 0 && y > 0

/** [lo, hi] of log10 over the values, padded by 5% of the span (½ decade around a single value) */
const logDomain = (vs: ReadonlyArray<number>): readonly [number, number] => {
  if (vs.length === 0) return [0, 1]
  const ls = vs.map(Math.log10)
  const lo = Math.min(...ls)
  const hi = Math.max(...ls)
  if (hi - lo < 1e-9) return [lo - 0.5, hi + 0.5]
  const pad = 0.05 * (hi - lo)
  return [lo - pad, hi + pad]
}

/** a tick label: its text and, for 10^k, the exponent drawn raised and smaller after it */
interface Label {
  readonly text: string
  readonly exponent?: string
}

/** decade k: 1, 10, 100, 1000 or 10 with exponent k */
const decadeLabel = (k: number): Label => (k >= 0 && k <= 3 ? { text: String(10 ** k) } : { text: '10', exponent: `${k < 0 ? '−' : ''}${Math.abs(k)}` })

/** approximate advance widths of sans-serif digits at 11px and at the exponent's 9px */
const DIGIT_W = 6.1
const EXP_W = 5.1
const EXP_SIZE = 9

/**
 * a label as <text> elements anchored at x by `anchor` (end: its right edge at x; middle: centred on x);
 * an exponent is its own <text> raised by 6px, placed after the base by the estimated width of the base
 */
export const labelText = (l: Label, x: number, y: number, anchor: 'end' | 'middle'): string => {
  if (l.exponent === undefined) return `<text x="${n2(x)}" y="${n2(y)}" text-anchor="${anchor}">${l.text}</text>`
  const wb = DIGIT_W * l.text.length
  const we = EXP_W * l.exponent.length
  const x0 = anchor === 'end' ? x - wb - we : x - (wb + we) / 2
  return `<text x="${n2(x0)}" y="${n2(y)}">${l.text}</text><text x="${n2(x0 + wb)}" y="${n2(y - 6)}" font-size="${EXP_SIZE}">${l.exponent}</text>`
}

/** a tick value's label: shortest of toPrecision(1..3) */
const valueLabel = (v: number): string => {
  const s = Number(v.toPrecision(3)).toString()
  return s.replace('-', '−')
}

interface Tick {
  readonly at: number // log10 value
  readonly label?: Label
  readonly major: boolean
}

/** decade ticks inside [lo, hi], minor ticks m·10^k (m = 2..9), minor labels only when fewer than 2 decades show */
const ticksOf = (lo: number, hi: number, extra: ReadonlyArray<number>): ReadonlyArray<Tick> => {
  const inside = (l: number) => l >= lo - 1e-12 && l <= hi + 1e-12
  const ks = Array.from({ length: Math.floor(hi) - Math.ceil(lo) + 1 }, (_, i) => Math.ceil(lo) + i)
  const labelMinor = ks.length < 2 && extra.length === 0
  const extraLogs = extra
    .filter((v) => v > 0 && Number.isFinite(v))
    .map(Math.log10)
    .filter(inside)
  const near = (l: number) => extraLogs.some((e) => Math.abs(e - l) < 1e-9)
  const majors: Tick[] = ks.map((k) => ({ at: k, major: true, label: decadeLabel(k) }))
  const minors: Tick[] = Array.from({ length: Math.floor(hi) - Math.floor(lo) + 1 }, (_, i) => Math.floor(lo) + i).flatMap((k) =>
    [2, 3, 4, 5, 6, 7, 8, 9]
      .map((m) => ({ m, at: k + Math.log10(m) }))
      .filter(({ at }) => inside(at) && !near(at))
      .map(({ m, at }): Tick => (labelMinor ? { at, major: false, label: { text: valueLabel(m * 10 ** k) } } : { at, major: false })),
  )
  const extras: Tick[] = extraLogs.filter((l) => !ks.some((k) => Math.abs(k - l) < 1e-9)).map((l) => ({ at: l, major: false, label: { text: valueLabel(10 ** l) } }))
  return [...majors, ...minors, ...extras]
}

const marker = (shape: (typeof shapes)[number], x: number, y: number, color: string): string => {
  const r = 3
  switch (shape) {
    case 'circle':
      return `<circle cx="${n2(x)}" cy="${n2(y)}" r="${r}" fill="${color}" stroke="none"/>`
    case 'square':
      return `<rect x="${n2(x - r)}" y="${n2(y - r)}" width="${2 * r}" height="${2 * r}" fill="${color}" stroke="none"/>`
    case 'triangle':
      return `<path d="M${n2(x)} ${n2(y - r - 1)}L${n2(x + r + 1)} ${n2(y + r)}L${n2(x - r - 1)} ${n2(y + r)}Z" fill="${color}" stroke="none"/>`
    case 'diamond':
      return `<path d="M${n2(x)} ${n2(y - r - 1)}L${n2(x + r + 1)} ${n2(y)}L${n2(x)} ${n2(y + r + 1)}L${n2(x - r - 1)} ${n2(y)}Z" fill="${color}" stroke="none"/>`
  }
}

/** the chart's elements (no root element) and its size */
const body = (spec: Spec): { readonly svg: string; readonly width: number; readonly height: number } => {
  const charW = 6.6 // approximate width of an 11px sans-serif character
  const legendW = Math.min(320, 40 + charW * Math.max(0, ...spec.series.map((s) => s.label.length)))
  const rowH = 16
  const width = spec.width ?? 720
  const height = Math.max(spec.height ?? 440, 70 + rowH * spec.series.length)
  const left = 72
  const right = width - legendW - 16
  const top = 40
  const bottom = height - 52
  const pts = spec.series.flatMap((s) => s.points.filter(valid))
  const [xlo, xhi] = logDomain([...pts.map((p) => p[0]), ...(spec.xTicks ?? []).filter((v) => v > 0)])
  const [ylo, yhi] = logDomain(pts.map((p) => p[1]))
  const sx = (x: number) => left + ((Math.log10(x) - xlo) / (xhi - xlo)) * (right - left)
  const sy = (y: number) => bottom - ((Math.log10(y) - ylo) / (yhi - ylo)) * (bottom - top)
  const lx = (l: number) => left + ((l - xlo) / (xhi - xlo)) * (right - left)
  const ly = (l: number) => bottom - ((l - ylo) / (yhi - ylo)) * (bottom - top)

  const xTicks = ticksOf(xlo, xhi, spec.xTicks ?? [])
  const yTicks = ticksOf(ylo, yhi, [])
  const grid = [
    ...xTicks.map((t) => `<line x1="${n2(lx(t.at))}" y1="${top}" x2="${n2(lx(t.at))}" y2="${bottom}" stroke="${t.major ? '#d0d0d0' : '#eeeeee'}"/>`),
    ...yTicks.map((t) => `<line x1="${left}" y1="${n2(ly(t.at))}" x2="${right}" y2="${n2(ly(t.at))}" stroke="${t.major ? '#d0d0d0' : '#eeeeee'}"/>`),
  ]
  const tickMarks = [
    ...xTicks.map((t) => `<line x1="${n2(lx(t.at))}" y1="${bottom}" x2="${n2(lx(t.at))}" y2="${bottom + (t.major ? 6 : 3)}" stroke="#333"/>`),
    ...yTicks.map((t) => `<line x1="${left - (t.major ? 6 : 3)}" y1="${n2(ly(t.at))}" x2="${left}" y2="${n2(ly(t.at))}" stroke="#333"/>`),
  ]
  const tickLabels = [
    ...xTicks.flatMap((t) => (t.label === undefined ? [] : [labelText(t.label, lx(t.at), bottom + 20, 'middle')])),
    ...yTicks.flatMap((t) => (t.label === undefined ? [] : [labelText(t.label, left - 9, ly(t.at) + 4, 'end')])),
  ]
  const lines = spec.series.flatMap((s, i) => {
    const color = palette[i % palette.length]!
    const dash = dashes[Math.floor(i / palette.length) % dashes.length]!
    const shape = shapes[i % shapes.length]!
    // split at invalid points so a diverged run breaks the line instead of vanishing silently
    const runs = s.points.reduce<Array<Array<readonly [number, number]>>>((acc, p) => (valid(p) ? [...acc.slice(0, -1), [...acc[acc.length - 1]!, p]] : [...acc, []]), [[]])
    const paths = runs
      .filter((r) => r.length > 1)
      .map(
        (r) =>
          `<path d="${r.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${n2(sx(x))} ${n2(sy(y))}`).join('')}" fill="none" stroke="${color}" stroke-width="1.6"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}/>`,
      )
    const marks = s.points.filter(valid).map(([x, y]) => marker(shape, sx(x), sy(y), color))
    const title = `<title>${escape(s.note ?? s.label)}</title>`
    return [`<g class="series">${title}${paths.join('')}${marks.join('')}</g>`]
  })
  const legend = spec.series.map((s, i) => {
    const color = palette[i % palette.length]!
    const dash = dashes[Math.floor(i / palette.length) % dashes.length]!
    const shape = shapes[i % shapes.length]!
    const x = right + 16
    const y = top + 6 + rowH * i
    return (
      `<g class="legend-entry">${s.note === undefined ? '' : `<title>${escape(s.note)}</title>`}` +
      `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${color}" stroke-width="1.6"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}/>` +
      marker(shape, x + 11, y, color) +
      `<text x="${x + 28}" y="${y + 4}">${escape(s.label)}</text></g>`
    )
  })
  const svg = [
    `<rect width="${width}" height="${height}" fill="white" stroke="none"/>`,
    `<text x="${n2((left + right) / 2)}" y="24" text-anchor="middle" font-size="14" font-weight="bold">${escape(spec.title)}</text>`,
    ...grid,
    `<rect x="${left}" y="${top}" width="${n2(right - left)}" height="${n2(bottom - top)}" fill="none" stroke="#333"/>`,
    ...tickMarks,
    ...tickLabels,
    `<text x="${n2((left + right) / 2)}" y="${height - 12}" text-anchor="middle">${escape(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${n2((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">${escape(spec.yLabel)}</text>`,
    ...lines,
    ...legend,
  ].join('\n')
  return { svg, width, height }
}

const open = (width: number, height: number): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`

// -------------------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------------------

/** a standalone SVG document of one log-log chart */
export const loglog = (spec: Spec): string => {
  const b = body(spec)
  return `${open(b.width, b.height)}\n${b.svg}\n</svg>\n`
}

/** several log-log charts stacked vertically in one SVG document: chart i is a <g class="panel" transform="translate(0 y_i)"> */
export const stack = (specs: ReadonlyArray<Spec>): string => {
  const bs = specs.map(body)
  const width = Math.max(0, ...bs.map((b) => b.width))
  const ys = bs.map((_, i) => bs.slice(0, i).reduce((acc, b) => acc + b.height, 0))
  const height = bs.reduce((acc, b) => acc + b.height, 0)
  const panels = bs.map((b, i) => `<g class="panel" transform="translate(0 ${ys[i]})">\n${b.svg}\n</g>`)
  return `${open(width, height)}\n${panels.join('\n')}\n</svg>\n`
}

/**
 * The browser demo: pick a named solver or edit a schedule document (validated as you type), pick
 * NFE and backend, and watch 2-D Gaussian-mixture samples move from noise to data next to their
 * exact ODE endpoints; below, error against NFE for the solvers you tick. Or pick the MNIST model:
 * a grid of digits of the class you choose, with classifier-free guidance w, denoises step by step
 * next to the x̂0 preview (mnist.ts). Everything is bundled (tfjs, its wasm binaries and the MNIST
 * network next to the bundle): the page works offline.
 *
 * URL parameters: model (gmm | mnist), backend (auto | webgpu | webgl | wasm | cpu), solver, nfe,
 * data, rows, schedule (a URL); for mnist: class (0–9 | mix), w, seed, digits (1–64).
 */
import '@tensorflow/tfjs-backend-webgpu'
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm'
import * as tf from '@tensorflow/tfjs'
import * as E from 'fp-ts/lib/Either.js'
import * as Codec from '../../src/schedule/Codec.ts'
import * as Plot from '../../src/interop/Plot.ts'
import * as Prog from '../../src/run/Program.ts'
import type * as Tfjs from '../../src/run/Tfjs.ts'
import '../../src/run/TfjsWebgl.ts'
import '../../src/run/TfjsWebgpu.ts'
import * as Api from './api.ts'
import * as Demo from './demo.ts'
import * as Mnist from './mnist.ts'

// -------------------------------------------------------------------------------------------------
// page elements
// -------------------------------------------------------------------------------------------------

const byId = <T extends HTMLElement>(id: string, kind: { new (): T; readonly prototype: T }): T => {
  const e = document.getElementById(id)
  if (!(e instanceof kind)) throw new Error(`page: #${id} is missing`)
  return e
}

const ui = {
  backend: byId('backend', HTMLOutputElement),
  model: byId('model', HTMLSelectElement),
  klass: byId('class', HTMLSelectElement),
  guidance: byId('guidance', HTMLSelectElement),
  seed: byId('seed', HTMLInputElement),
  digitsCount: byId('digits-count', HTMLSelectElement),
  reseed: byId('reseed', HTMLButtonElement),
  mnistInfo: byId('mnist-info', HTMLParagraphElement),
  digits: byId('digits', HTMLCanvasElement),
  solver: byId('solver', HTMLSelectElement),
  nfe: byId('nfe', HTMLInputElement),
  backendChoice: byId('backend-choice', HTMLSelectElement),
  mixture: byId('mixture', HTMLSelectElement),
  doc: byId('doc', HTMLTextAreaElement),
  issues: byId('issues', HTMLUListElement),
  file: byId('file', HTMLInputElement),
  run: byId('run', HTMLButtonElement),
  canvas: byId('samples', HTMLCanvasElement),
  play: byId('play', HTMLButtonElement),
  frame: byId('frame', HTMLInputElement),
  step: byId('step', HTMLOutputElement),
  summary: byId('summary', HTMLParagraphElement),
  chartSolvers: byId('chart-solvers', HTMLDivElement),
  chart: byId('chart', HTMLDivElement),
}

const params = new URLSearchParams(location.search)
const CUSTOM = 'custom'
const CHART_NFES: ReadonlyArray<number> = [3, 4, 5, 6, 8, 10, 12, 15, 20, 25]
const CHART_DEFAULT: ReadonlyArray<string> = ['ddim', 'dpmpp-2m', 'dpmpp-3m', 'unipc-bh2-3', 'euler']
/** ms per step of the animation */
const STEP_MS = 380
/** the Tableau 10 palette (as Plot.ts) */
const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac']
/** the drawn square: [−VIEW, VIEW]² */
const VIEW = 3.2
/** a digits panel's width in canvas pixels (about: whole screen pixels per digit pixel), and the gap between digits */
const PANEL = 340
const GAP = 4
/** the MNIST grid sizes offered (software WebGL is slow with convolutions: fewer digits there) */
const DIGIT_COUNTS: ReadonlyArray<number> = [1, 4, 9, 16, 25, 36, 64]
/** the MNIST grid's size */
const digits = (): number => Number(ui.digitsCount.value) || 16

// -------------------------------------------------------------------------------------------------
// state (the only mutable part of the demo)
// -------------------------------------------------------------------------------------------------

/** the MNIST side of the page */
interface MnistState {
  info: Mnist.Info | undefined
  loaded: Mnist.Loaded | undefined
  /** the frames of the latest run (growing while it runs) and its request */
  frames: Mnist.Frame[]
  steps: number
  nfe: number
  /** the finished run, or why the latest run failed */
  result: Mnist.Sampled | undefined
  error: Error | undefined
}

interface State {
  model: 'gmm' | 'mnist'
  mnist: MnistState
  active: Demo.Active | undefined
  problem: Demo.Problem | undefined
  trajectory: Demo.Trajectory | undefined
  label: string
  /** animation position in steps, 0 … frames − 1 */
  pos: number
  playing: boolean
  /** the running animation loop (older loops stop) */
  loop: number
  /** the latest run (older runs do not show their result) */
  run: number
  /** bumped by every change that invalidates a running chart computation */
  generation: number
  /** the chart computation and the run in flight */
  charting: Promise<void>
  running: Promise<void>
}

const state: State = {
  model: 'gmm',
  mnist: { info: undefined, loaded: undefined, frames: [], steps: 0, nfe: 0, result: undefined, error: undefined },
  active: undefined,
  problem: undefined,
  trajectory: undefined,
  label: '',
  pos: 0,
  playing: false,
  loop: 0,
  run: 0,
  generation: 0,
  charting: Promise.resolve(),
  running: Promise.resolve(),
}

// -------------------------------------------------------------------------------------------------
// drawing
// -------------------------------------------------------------------------------------------------

/** canvas pixels of a data point */
const toPixel =
  (size: number) =>
  (x: number, y: number): readonly [number, number] => [((x + VIEW) / (2 * VIEW)) * size, ((VIEW - y) / (2 * VIEW)) * size]

/** x of row b at animation position pos (linear between frames) */
const at = (frames: ReadonlyArray<Float32Array>, pos: number, i: number): number => {
  const k = Math.max(0, Math.min(Math.floor(pos), frames.length - 1))
  const f = pos - k
  const a = frames[k]![i]!
  return f === 0 || k + 1 >= frames.length ? a : a + f * (frames[k + 1]![i]! - a)
}

/** the axes x = 0 and y = 0 a shade darker than the grid, and a tick mark and label at every integer along the bottom (x) and left (y) edges */
const drawAxes = (ctx: CanvasRenderingContext2D, size: number, dpr: number, px: (x: number, y: number) => readonly [number, number]): void => {
  const [ox, oy] = px(0, 0)
  ctx.strokeStyle = '#d5d9df'
  ctx.lineWidth = dpr
  ctx.beginPath()
  ctx.moveTo(ox, 0)
  ctx.lineTo(ox, size)
  ctx.moveTo(0, oy)
  ctx.lineTo(size, oy)
  ctx.stroke()
  const len = 5 * dpr
  ctx.strokeStyle = '#8a919c'
  ctx.beginPath()
  for (let v = -3; v <= 3; v++) {
    const [gx, gy] = px(v, v)
    ctx.moveTo(gx, size)
    ctx.lineTo(gx, size - len)
    ctx.moveTo(0, gy)
    ctx.lineTo(len, gy)
  }
  ctx.stroke()
  ctx.fillStyle = '#6b7280'
  ctx.font = `${10 * dpr}px sans-serif`
  const label = (v: number) => (v < 0 ? `−${-v}` : String(v))
  ctx.textAlign = 'center'
  ctx.textBaseline = 'bottom'
  for (let v = -3; v <= 3; v++) ctx.fillText(label(v), px(v, 0)[0], size - len - 2 * dpr)
  ctx.textAlign = 'left'
  ctx.textBaseline = 'middle'
  // y = −3 would sit on the x axis' labels in the corner
  for (let v = -2; v <= 3; v++) ctx.fillText(label(v), len + 3 * dpr, px(0, v)[1])
}

/** one frame: axes with ticks, component circles (2s), exact endpoints (rings), trails and samples coloured by their component */
const drawMixture = (): void => {
  const c = ui.canvas
  const dpr = window.devicePixelRatio || 1
  const size = Math.round(c.clientWidth * dpr) || c.width
  if (c.width !== size) {
    c.width = size
    c.height = size
  }
  const ctx = c.getContext('2d')
  if (ctx === null) return
  const px = toPixel(size)
  ctx.fillStyle = '#ffffff'
  ctx.fillRect(0, 0, size, size)
  ctx.strokeStyle = '#eef0f3'
  ctx.lineWidth = dpr
  for (let v = -3; v <= 3; v++) {
    const [gx, gy] = px(v, v)
    ctx.beginPath()
    ctx.moveTo(gx, 0)
    ctx.lineTo(gx, size)
    ctx.moveTo(0, gy)
    ctx.lineTo(size, gy)
    ctx.stroke()
  }
  drawAxes(ctx, size, dpr, px)
  const pr = state.problem
  if (pr === undefined) return
  const g = pr.mixture.gmm
  const scale = size / (2 * VIEW)
  ctx.setLineDash([4 * dpr, 4 * dpr])
  ctx.strokeStyle = '#c3c8d0'
  g.means.forEach((mu, k) => {
    const [cx, cy] = px(mu[0]!, mu[1]!)
    ctx.beginPath()
    ctx.ellipse(cx, cy, 2 * Math.sqrt(g.variances[k]![0]!) * scale, 2 * Math.sqrt(g.variances[k]![1]!) * scale, 0, 0, 2 * Math.PI)
    ctx.stroke()
  })
  ctx.setLineDash([])
  ctx.strokeStyle = 'rgba(40, 44, 52, 0.55)'
  ctx.lineWidth = dpr
  ctx.beginPath()
  for (let b = 0; b < pr.rows; b++) {
    const [ex, ey] = px(pr.exact[2 * b]!, pr.exact[2 * b + 1]!)
    ctx.moveTo(ex + 3.2 * dpr, ey)
    ctx.arc(ex, ey, 3.2 * dpr, 0, 2 * Math.PI)
  }
  ctx.stroke()
  const tr = state.trajectory
  if (tr === undefined) return
  const last = Math.floor(state.pos)
  for (let k = 0; k < g.K; k++) {
    const colour = palette[k % palette.length]!
    ctx.strokeStyle = colour
    ctx.globalAlpha = 0.16
    ctx.beginPath()
    for (let b = 0; b < pr.rows; b++) {
      if (pr.labels[b] !== k) continue
      ctx.moveTo(...px(tr.frames[0]![2 * b]!, tr.frames[0]![2 * b + 1]!))
      for (let f = 1; f <= last; f++) ctx.lineTo(...px(tr.frames[f]![2 * b]!, tr.frames[f]![2 * b + 1]!))
      ctx.lineTo(...px(at(tr.frames, state.pos, 2 * b), at(tr.frames, state.pos, 2 * b + 1)))
    }
    ctx.stroke()
    ctx.globalAlpha = 0.9
    ctx.fillStyle = colour
    ctx.beginPath()
    for (let b = 0; b < pr.rows; b++) {
      if (pr.labels[b] !== k) continue
      const [x, y] = px(at(tr.frames, state.pos, 2 * b), at(tr.frames, state.pos, 2 * b + 1))
      ctx.moveTo(x + 2.2 * dpr, y)
      ctx.arc(x, y, 2.2 * dpr, 0, 2 * Math.PI)
    }
    ctx.fill()
  }
  ctx.globalAlpha = 1
  const n = tr.frames.length - 1
  const k = Math.min(Math.round(state.pos), n)
  ui.step.value = `step ${k}/${n} · t = ${tr.ts[k]!.toPrecision(3)}`
  ui.frame.value = String(state.pos)
}

/** the grid's columns and rows for `n` digits */
const gridOf = (n: number): { readonly cols: number; readonly rows: number; readonly zoom: number } => {
  const cols = Math.ceil(Math.sqrt(n))
  return { cols, rows: Math.ceil(n / cols), zoom: Math.max(1, Math.floor(PANEL / (cols * Mnist.SIDE))) }
}

/** a panel's size in canvas pixels */
const panelOf = (n: number): { readonly w: number; readonly h: number } => {
  const { cols, rows, zoom } = gridOf(n)
  const cell = Mnist.SIDE * zoom
  return { w: cols * cell + (cols - 1) * GAP, h: rows * cell + (rows - 1) * GAP }
}

/** the n digits of `x` ([n, 784] row-major, values in [−1, 1]: −1 black, 1 white) as a grid at (ox, oy) */
const drawGrid = (ctx: CanvasRenderingContext2D, x: Float32Array, n: number, ox: number, oy: number): void => {
  const { cols, zoom } = gridOf(n)
  const cell = Mnist.SIDE * zoom
  const { w, h } = panelOf(n)
  const img = ctx.createImageData(w, h)
  const px = img.data
  px.fill(255)
  for (let b = 0; b < n; b++) {
    const cx = (b % cols) * (cell + GAP)
    const cy = Math.floor(b / cols) * (cell + GAP)
    for (let i = 0; i < Mnist.SIDE; i++)
      for (let j = 0; j < Mnist.SIDE; j++) {
        const v = x[b * Mnist.D + i * Mnist.SIDE + j]!
        const g = Number.isFinite(v) ? Math.round(((Math.min(1, Math.max(-1, v)) + 1) / 2) * 255) : 0
        for (let di = 0; di < zoom; di++)
          for (let dj = 0; dj < zoom; dj++) {
            const k = 4 * ((cy + i * zoom + di) * w + cx + j * zoom + dj)
            px[k] = px[k + 1] = px[k + 2] = g
          }
      }
  }
  ctx.putImageData(img, ox, oy)
}

/** the MNIST view: x at the shown step (left) and its x̂0 preview (right), with the step counter */
const drawDigits = (): void => {
  const m = state.mnist
  const c = ui.digits
  const k = Math.min(Math.round(state.pos), m.frames.length - 1)
  const f = m.frames[k]
  const n = f === undefined ? digits() : f.x.length / Mnist.D
  const panel = panelOf(n)
  const top = 26
  const mid = 32
  const width = 2 * panel.w + mid
  const height = top + panel.h
  if (c.width !== width || c.height !== height) {
    c.width = width
    c.height = height
  }
  const ctx = c.getContext('2d')
  if (ctx === null) return
  ctx.fillStyle = '#ffffff'
  ctx.fillRect(0, 0, width, height)
  ctx.fillStyle = '#1d2433'
  ctx.font = '14px sans-serif'
  ctx.textBaseline = 'alphabetic'
  ctx.fillText(f === undefined ? 'x' : `x at t = ${f.t.toPrecision(3)}`, 0, 17)
  ctx.fillText('x̂0 preview (data prediction)', panel.w + mid, 17)
  ctx.fillStyle = '#eef0f3'
  ctx.fillRect(0, top, panel.w, panel.h)
  ctx.fillRect(panel.w + mid, top, panel.w, panel.h)
  if (f !== undefined) {
    drawGrid(ctx, f.x, n, 0, top)
    if (f.x0 !== undefined) drawGrid(ctx, f.x0, n, panel.w + mid, top)
  }
  ui.step.value = f === undefined ? '' : `step ${f.step}/${m.steps} · NFE ${f.nfe}/${m.nfe}`
  ui.frame.value = String(state.pos)
}

/** the current view */
const draw = (): void => (state.model === 'mnist' ? drawDigits() : drawMixture())

/** frames the player can show */
const frameCount = (): number => (state.model === 'mnist' ? state.mnist.frames.length : (state.trajectory?.frames.length ?? 0))

/** advance the animation by wall time until the last frame */
const animate = (): void => {
  let prev = performance.now()
  const loop = ++state.loop
  const tick = (now: number) => {
    const n = frameCount()
    if (!state.playing || n === 0 || loop !== state.loop) return
    // a frame's timestamp may precede the performance.now() taken when the animation started
    state.pos = Math.min(Math.max(0, state.pos + Math.max(0, now - prev) / STEP_MS), n - 1)
    prev = Math.max(prev, now)
    if (state.pos >= n - 1) setPlaying(false)
    draw()
    if (state.playing) requestAnimationFrame(tick)
  }
  requestAnimationFrame(tick)
}

const setPlaying = (on: boolean): void => {
  state.playing = on
  ui.play.textContent = on ? '❚❚' : '▶'
  if (on) animate()
}

// -------------------------------------------------------------------------------------------------
// document and issues
// -------------------------------------------------------------------------------------------------

/** list the issues (path in bold) under the editor, or the document's summary when it is valid */
const showIssues = (issues: ReadonlyArray<Codec.Issue>, okText: string): void => {
  ui.doc.classList.toggle('invalid', issues.length > 0)
  ui.issues.replaceChildren(
    ...(issues.length === 0
      ? [Object.assign(document.createElement('li'), { className: 'ok', textContent: okText })]
      : issues.map((i) => {
          const li = document.createElement('li')
          li.append(Object.assign(document.createElement('code'), { textContent: i.path }), `: ${i.message}`)
          return li
        })),
  )
}

/** the editor's document as a program, showing its issues; undefined when invalid */
const validate = (): Prog.Program | undefined =>
  E.match(
    (issues: ReadonlyArray<Codec.Issue>) => {
      showIssues(issues, '')
      return undefined
    },
    (p: Prog.Program) => {
      showIssues([], `✓ valid: ${p.steps.length} steps, ${p.nfe} model evaluations`)
      return p
    },
  )(state.model === 'mnist' ? Mnist.programOf(ui.doc.value) : Demo.programOf(ui.doc.value))

/** put a named solver's document at the current NFE into the editor */
const loadNamed = (): void => {
  const nfe = Math.max(1, Math.round(Number(ui.nfe.value) || 10))
  const s = Demo.documentOf(ui.solver.value, nfe)
  if (s !== undefined) ui.doc.value = Demo.pretty(s)
}

/** switch the editor to a custom document (text from a file, a URL or typing) */
const setCustom = (text?: string): void => {
  ui.solver.value = CUSTOM
  ui.nfe.disabled = true
  if (text !== undefined) ui.doc.value = text
}

// -------------------------------------------------------------------------------------------------
// runs
// -------------------------------------------------------------------------------------------------

const setSummary = (text: string, bad = false): void => {
  ui.summary.textContent = text
  ui.summary.classList.toggle('bad', bad)
}

/** a short name for the GPU: software renderers say so */
const gpuName = (renderer: string): string =>
  /swiftshader/i.test(renderer) ? 'SwiftShader (software)' : /llvmpipe/i.test(renderer) ? 'llvmpipe (software)' : renderer.replace(/^ANGLE \((.*)\)$/, '$1')

const showBackend = (a: Demo.Active | undefined, error?: string): void => {
  ui.backend.classList.toggle('bad', a === undefined)
  ui.backend.textContent = a === undefined ? `no backend: ${error ?? ''}` : `${a.backend} · lincomb ${a.variant}${a.renderer === '' ? '' : ` · ${gpuName(a.renderer)}`}`
  ui.backend.title = a === undefined ? '' : [a.renderer, ...a.failed.map((f) => `${f.backend}: ${f.error}`)].filter((t) => t !== '').join('\n')
}

/** the MNIST network on the active backend (loaded again after a backend change, the old one disposed) */
const networkOnBackend = async (): Promise<Mnist.Loaded> => {
  const m = state.mnist
  if (m.loaded !== undefined && m.loaded.backend === tf.getBackend()) return m.loaded
  m.loaded?.net.dispose()
  m.loaded = undefined
  m.loaded = await Mnist.load(location.href)
  return m.loaded
}

/** what the build says about the network, shown under the MNIST controls */
const showInfo = async (): Promise<Mnist.Info> => {
  const i = (state.mnist.info ??= await Mnist.info(location.href))
  const size = `${(i.params / 1e3).toFixed(0)}k weights, ${(i.bytes / 1e6).toFixed(2)} MB`
  const steps = typeof i.training?.['steps'] === 'number' ? `, ${i.training['steps']} training steps` : ''
  ui.mnistInfo.textContent =
    i.source === 'trained'
      ? `${i.name ?? 'trained network'} from ${i.from} (${size}${steps})`
      : `untrained network (random weights of the same architecture, ${size}): the digits stay noise until the trained weights are in models/mnist/ and the demo is rebuilt`
  ui.mnistInfo.classList.toggle('bad', i.source !== 'trained')
  return i
}

const classChoice = (): Mnist.ClassChoice => (ui.klass.value === 'mix' ? 'mix' : Number(ui.klass.value))

const classText = (c: Mnist.ClassChoice): string => (c === 'mix' ? 'classes 0–9' : `class ${c}`)

/** sample the grid with the editor's program on the active backend, drawing every step as it is computed (a newer run stops this one) */
const runMnist = async (p: Prog.Program, run: number): Promise<void> => {
  const m = state.mnist
  const previous = state.running
  const job = (async () => {
    await Promise.all([previous, state.charting])
    if (run !== state.run) return
    await showInfo()
    setSummary(`loading the network on ${tf.getBackend()}…`)
    const loaded = await networkOnBackend()
    if (run !== state.run) return
    const choice = classChoice()
    const w = Number(ui.guidance.value)
    const seed = Math.max(0, Math.round(Number(ui.seed.value) || 0))
    const label = ui.solver.value === CUSTOM ? (p.schedule.name ?? 'custom document') : ui.solver.value
    setPlaying(false)
    m.frames = []
    m.result = undefined
    m.error = undefined
    m.steps = Prog.stepBounds(p).length - 1
    m.nfe = p.nfe
    ui.frame.max = String(m.steps)
    state.label = label
    const rows = w === 1 ? digits() : 2 * digits()
    setSummary(`sampling ${digits()} digits (${classText(choice)}, w = ${w}: ${rows} rows per network call) on ${loaded.backend}…`)
    const r = await Mnist.sample(
      loaded,
      { program: p, labels: Mnist.labelsOf(choice, digits()), w, seed },
      Demo.safeOptions(),
      async (f) => {
        if (run !== state.run) return
        m.frames.push(f)
        state.pos = f.step
        draw()
        await tf.nextFrame()
      },
      () => run !== state.run,
    )
    if (run !== state.run) return
    m.result = r
    setSummary(`${label} · NFE ${r.nfe} · ${classText(choice)} · w = ${w} · ${digits()} digits · ${(r.ms / 1000).toFixed(1)} s on ${loaded.backend} (drawing included)`)
    draw()
  })()
  state.running = job.then(
    () => undefined,
    () => undefined,
  )
  try {
    await job
  } catch (e) {
    if (run !== state.run) return
    m.error = e instanceof Error ? e : new Error(String(e))
    setSummary(m.error.message, true)
  }
}

/** validate the editor, run its program on the active backend, start the animation (a newer run supersedes it) */
const runDocument = async (): Promise<void> => {
  const p = validate()
  if (state.model === 'mnist') {
    if (p !== undefined && ui.solver.value === CUSTOM) ui.nfe.value = String(p.nfe)
    if (p === undefined || state.active === undefined) return
    return runMnist(p, ++state.run)
  }
  const pr = state.problem
  if (p !== undefined && ui.solver.value === CUSTOM) ui.nfe.value = String(p.nfe)
  if (p === undefined || pr === undefined || state.active === undefined) return
  const run = ++state.run
  const backend = state.active.backend
  try {
    const job = Demo.trajectory(p, pr)
    state.running = job.then(
      () => undefined,
      () => undefined,
    )
    const tr = await job
    if (run !== state.run) return
    state.trajectory = tr
    state.label = ui.solver.value === CUSTOM ? (p.schedule.name ?? 'custom document') : ui.solver.value
    state.pos = 0
    ui.frame.max = String(tr.frames.length - 1)
    const err = Demo.meanL2(tr.x, pr.exact, 2)
    setSummary(`${state.label} · NFE ${tr.nfe} · mean L2 error vs exact ODE endpoint ${err.toExponential(2)} · ${tr.ms.toFixed(0)} ms on ${backend}`)
    draw()
    setPlaying(true)
  } catch (e) {
    if (run !== state.run) return
    state.trajectory = undefined
    draw()
    setSummary(e instanceof Error ? e.message : String(e), true)
  }
  refreshChart()
}

/** start recomputing the chart (an older computation stops at its next run) */
const refreshChart = (): void => {
  state.charting = chart().catch((e: unknown) => {
    ui.chart.textContent = e instanceof Error ? e.message : String(e)
  })
}

/** stop the background work (animation, chart) and wait for the runs in flight: the test API measures memory */
const quiet = async (): Promise<void> => {
  state.generation++
  setPlaying(false)
  await Promise.all([state.running, state.charting])
}

/** recompute the error-vs-NFE chart for the ticked solvers (and the current document as one point) */
const chart = async (): Promise<void> => {
  const generation = ++state.generation
  const pr = state.problem
  if (pr === undefined || state.active === undefined) return
  const ids = Array.from(ui.chartSolvers.querySelectorAll('input'))
    .filter((i) => i.checked)
    .map((i) => i.value)
  ui.chart.textContent = `computing ${ids.length} solvers × ${CHART_NFES.length} budgets on ${state.active.backend}…`
  const series = await Demo.errorSeries(
    ids,
    CHART_NFES,
    pr,
    () => tf.nextFrame(),
    () => state.generation !== generation,
  )
  if (series === undefined || state.generation !== generation) return
  const tr = state.trajectory
  const current: ReadonlyArray<Plot.Series> = tr === undefined || ids.includes(state.label) ? [] : [{ label: `${state.label} (editor)`, points: [[tr.nfe, Demo.meanL2(tr.x, pr.exact, 2)]] }]
  ui.chart.innerHTML = Plot.loglog({
    title: `mean L2 error vs the exact ODE endpoint · ${pr.mixture.label}, ${pr.rows} samples · ${state.active.backend} (float32)`,
    xLabel: 'NFE (model evaluations)',
    yLabel: 'mean L2 error',
    series: [...series, ...current],
    xTicks: CHART_NFES,
    width: 1060,
    height: 380,
  })
}

/** the problem for the selected mixture (its exact endpoints take a moment) */
const loadProblem = (): void => {
  const mixture = Demo.mixtures.find((m) => m.id === ui.mixture.value) ?? Demo.mixtures[0]!
  const rows = Math.min(4000, Math.max(16, Math.round(Number(params.get('rows') ?? 800) || 800)))
  state.problem = Demo.problem(mixture, rows, 1)
}

/** select backends (one, or the preference order for 'auto'), once the run in flight has stopped */
const useBackend = async (choice: string): Promise<Demo.Active> => {
  state.run++
  await state.running
  const order = Demo.preference.filter((b) => choice === 'auto' || b === choice)
  try {
    state.active = await Demo.initFirst(order.length === 0 ? Demo.preference : order)
    showBackend(state.active)
    return state.active
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    state.active = undefined
    showBackend(undefined, message)
    throw e
  }
}

// -------------------------------------------------------------------------------------------------
// wiring
// -------------------------------------------------------------------------------------------------

const option = (value: string, text: string, title = ''): HTMLOptionElement => Object.assign(document.createElement('option'), { value, textContent: text, title })

const debounce = (ms: number, f: () => void): (() => void) => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return () => {
    clearTimeout(timer)
    timer = setTimeout(f, ms)
  }
}

/** show the 2-D mixtures or the MNIST digits (the caller re-runs) */
const setModel = (m: 'gmm' | 'mnist'): void => {
  state.model = m
  ui.model.value = m
  // stop the error-vs-NFE chart computation (its runs would share the backend and the tensor count with an MNIST run)
  state.generation++
  document.body.classList.toggle('mode-mnist', m === 'mnist')
  setPlaying(false)
  state.pos = Math.max(0, frameCount() - 1)
  ui.frame.max = String(Math.max(0, frameCount() - 1))
  draw()
}

const setup = (): void => {
  ui.solver.replaceChildren(...Demo.solvers.map((n) => option(n.id, `${n.id} — ${n.label}`, n.label)), option(CUSTOM, 'custom document (editor)'))
  ui.mixture.replaceChildren(...Demo.mixtures.map((m) => option(m.id, m.label)))
  ui.klass.replaceChildren(...Array.from({ length: 10 }, (_, k) => option(String(k), String(k))), option('mix', '0–9 mixed', 'sample b gets class b mod 10'))
  ui.guidance.replaceChildren(...Mnist.weights.map((w) => option(String(w), w === 0 ? '0 (unconditional)' : w === 1 ? '1 (conditional, no guidance)' : String(w))))
  const klass = params.get('class')
  ui.klass.value = klass !== null && Array.from(ui.klass.options).some((o) => o.value === klass) ? klass : 'mix'
  const w = params.get('w')
  ui.guidance.value = w !== null && Mnist.weights.includes(Number(w)) ? String(Number(w)) : '3'
  ui.digitsCount.replaceChildren(...DIGIT_COUNTS.map((n) => option(String(n), String(n))))
  ui.digitsCount.value = DIGIT_COUNTS.includes(Number(params.get('digits'))) ? String(Number(params.get('digits'))) : '16'
  ui.seed.value = String(Math.max(0, Math.round(Number(params.get('seed') ?? 1) || 0)))
  ui.chartSolvers.replaceChildren(
    ...Demo.solvers.map((n) => {
      const box = Object.assign(document.createElement('input'), { type: 'checkbox', value: n.id, checked: CHART_DEFAULT.includes(n.id) })
      const label = document.createElement('label')
      label.title = n.label
      label.append(box, n.id)
      return label
    }),
  )
  ui.solver.value = Demo.solvers.some((n) => n.id === params.get('solver')) ? (params.get('solver') ?? '') : 'dpmpp-2m'
  ui.nfe.value = params.get('nfe') ?? '10'
  ui.mixture.value = Demo.mixtures.some((m) => m.id === params.get('data')) ? (params.get('data') ?? '') : Demo.mixtures[0]!.id
  ui.backendChoice.value = Array.from(ui.backendChoice.options).some((o) => o.value === params.get('backend')) ? (params.get('backend') ?? 'auto') : 'auto'

  ui.solver.addEventListener('change', () => {
    ui.nfe.disabled = ui.solver.value === CUSTOM
    if (ui.solver.value !== CUSTOM) {
      loadNamed()
      void runDocument()
    }
  })
  ui.nfe.addEventListener('change', () => {
    loadNamed()
    void runDocument()
  })
  const typed = debounce(450, () => void runDocument())
  ui.doc.addEventListener('input', () => {
    if (ui.solver.value !== CUSTOM) setCustom()
    if (validate() !== undefined) typed()
  })
  ui.file.addEventListener('change', async () => {
    const f = ui.file.files?.[0]
    if (f === undefined) return
    setCustom(await f.text())
    await runDocument()
  })
  ui.run.addEventListener('click', () => void runDocument())
  ui.mixture.addEventListener('change', () => {
    loadProblem()
    void runDocument()
  })
  ui.model.addEventListener('change', () => {
    setModel(ui.model.value === 'mnist' ? 'mnist' : 'gmm')
    void runDocument()
  })
  const rerunMnist = () => {
    if (state.model === 'mnist') void runDocument()
  }
  ui.klass.addEventListener('change', rerunMnist)
  ui.guidance.addEventListener('change', rerunMnist)
  ui.seed.addEventListener('change', rerunMnist)
  ui.digitsCount.addEventListener('change', rerunMnist)
  ui.reseed.addEventListener('click', () => {
    ui.seed.value = String(Math.max(0, Math.round(Number(ui.seed.value) || 0)) + 1)
    rerunMnist()
  })
  ui.backendChoice.addEventListener('change', async () => {
    await useBackend(ui.backendChoice.value).then(runDocument, () => undefined)
  })
  ui.chartSolvers.addEventListener('change', refreshChart)
  ui.play.addEventListener('click', () => {
    const n = frameCount()
    if (n === 0) return
    if (!state.playing && state.pos >= n - 1) state.pos = 0
    setPlaying(!state.playing)
  })
  ui.frame.addEventListener('input', () => {
    setPlaying(false)
    state.pos = Number(ui.frame.value)
    draw()
  })
  window.addEventListener('resize', draw)
}

/** pixel statistics of a canvas: distinct colours and non-white pixels */
const canvasStats = (canvas: HTMLCanvasElement = ui.canvas): Api.CanvasStats => {
  const { width, height } = canvas
  const data = canvas.getContext('2d')?.getImageData(0, 0, width, height).data ?? new Uint8ClampedArray()
  const colours = new Set<number>()
  let foreground = 0
  for (let i = 0; i < data.length; i += 4) {
    const rgb = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!
    colours.add(rgb)
    if (rgb !== 0xffffff) foreground++
  }
  return { width, height, distinct: colours.size, foreground }
}

const status = (a: Demo.Active): Api.Status => ({ backend: a.backend, variant: a.variant, renderer: a.renderer, failed: a.failed })

/** the URL of ?schedule=, fetched as the editor's document (issues shown if it cannot be read) */
const fetchSchedule = async (url: string): Promise<void> => {
  const text = await fetch(url).then(
    (r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))),
    (e: unknown) => Promise.reject(e),
  )
  setCustom(text)
}

/** wait until no run is in flight (a run may start another: wait again) and report the latest MNIST run */
const mnistReport = async (): Promise<Api.MnistReport> => {
  for (let run = -1; run !== state.run;) {
    run = state.run
    await state.running
  }
  const m = state.mnist
  if (m.error !== undefined) throw m.error
  const r = m.result
  if (r === undefined) throw new Error('no MNIST run has finished (select the MNIST model first)')
  const x = r.frames[r.frames.length - 1]!.x
  let background = 0
  let ink = 0
  for (const v of x) {
    if (v <= -0.5) background++
    if (v >= 0.5) ink++
  }
  return {
    backend: m.loaded?.backend ?? '',
    solver: state.label,
    nfe: r.nfe,
    steps: r.steps,
    frames: r.frames.length,
    complete: r.complete,
    classChoice: ui.klass.value,
    w: Number(ui.guidance.value),
    seed: Number(ui.seed.value),
    digits: x.length / Mnist.D,
    ms: r.ms,
    tensors: r.frames.map((f) => f.tensors),
    leaked: r.leaked,
    numTensors: tf.memory().numTensors,
    background: background / x.length,
    ink: ink / x.length,
    min: x.reduce((a, b) => Math.min(a, b), Infinity),
    max: x.reduce((a, b) => Math.max(a, b), -Infinity),
    first: Array.from(x.subarray(0, Mnist.D)),
    counter: ui.step.value,
    source: m.info === undefined ? '' : `${m.info.source}: ${m.info.from}`,
  }
}

const start = async (): Promise<Api.Status> => {
  setWasmPaths(new URL('./', import.meta.url).href)
  setup()
  setModel(params.get('model') === 'mnist' ? 'mnist' : 'gmm')
  setSummary('starting a backend…')
  const a = await useBackend(ui.backendChoice.value)
  setSummary('computing the exact ODE endpoints…')
  await tf.nextFrame()
  loadProblem()
  const url = params.get('schedule')
  if (url === null) loadNamed()
  else
    await fetchSchedule(url).catch((e: unknown) => {
      setCustom('')
      showIssues([{ path: '(root)', message: `could not load ${url} (${e instanceof Error ? e.message : String(e)})` }], '')
    })
  await runDocument()
  return status(a)
}

const ready = start()
ready.catch((e: unknown) => setSummary(e instanceof Error ? e.message : String(e), true))

window.stepwiseTest = {
  ready: () => ready,
  use: async (b: Tfjs.Backend) => {
    ui.backendChoice.value = b
    const a = await useBackend(b)
    await runDocument()
    return status(a)
  },
  run: async (r) => {
    await quiet()
    return Api.run(r)
  },
  lincomb: async (c) => {
    await quiet()
    return Api.lincomb(c)
  },
  bench: async (r) => {
    await quiet()
    return Api.bench(r)
  },
  settle: async () => {
    refreshChart()
    await state.charting
  },
  show: (k) => {
    setPlaying(false)
    const n = Math.max(0, frameCount() - 1)
    state.pos = k < 0 ? n : Math.min(k, n)
    draw()
  },
  canvasStats: () => canvasStats(),
  mnist: mnistReport,
  digitsStats: () => canvasStats(ui.digits),
}

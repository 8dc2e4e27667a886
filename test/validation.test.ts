/**
 * Issue 12: a new user's bad input never exits 0 and never crashes. Each case runs the real CLI
 * (node bin/stepwise.js …) or the command's functions and checks the exit code and the message
 * (it names the flag or JSON path, what was found and the fix; no stack trace).
 */
import * as assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'

const root = path.join(import.meta.dirname, '..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-validation-'))
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/stepwise.js'), ...args], { encoding: 'utf8', cwd: tmp })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
const golden = path.join(root, 'test/golden/d2_k3.linear.json')
const discrete = path.join(root, 'test/golden/d2_k3.discrete.json')
const write = (name: string, v: unknown): string => {
  const f = path.join(tmp, name)
  fs.writeFileSync(f, JSON.stringify(v))
  return f
}
const read = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>
const xT = write('x.json', {
  data: [
    [0.1, -0.3],
    [1.5, 0.2],
  ],
})
/** no stack trace: no 'at file:line' frames, no Node error banners */
const noTrace = (s: string) => assert.doesNotMatch(s, /^\s+at .+:\d+:\d+\)?$|node:internal|Error \[ERR_/m, s)

// -------------------------------------------------------------------------------------------------
// 1. --set values and built documents
// -------------------------------------------------------------------------------------------------

test('--set: a bad value of a declared parameter is a usage error listing the allowed values', () => {
  for (const [id, kv, allowed] of [
    ['dpmpp-3m', 'parity=foo', /one of exact, reference/],
    ['unipc-bh2-2', 'finalCorrector=maybe', /one of true, false/],
    ['lms', 'order=9', /an integer in 1–6/],
    ['ddim-eta', 'eta=-1', /a number ≥ 0/],
    ['hb', 'beta=0', /a number > 0 and ≤ 1/],
    ['euler-churn', 'sTmax=big', /a number ≥ 0 or 'inf'/],
  ] as const) {
    const r = cli('solvers', '--show', id, '--nfe', '10', '--set', kv)
    assert.equal(r.code, 2, `${id} ${kv}: ${r.out}`)
    assert.match(r.err, new RegExp(`--set ${kv.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected`), r.err)
    assert.match(r.err, allowed, r.err)
    assert.equal(r.out, '', 'no document printed')
    noTrace(r.err)
  }
})

test('--set: an unknown key lists the parameters; a word without = is refused', () => {
  const r = cli('solvers', '--show', 'lms', '--nfe', '10', '--set', 'colour=red')
  assert.equal(r.code, 2)
  assert.match(r.err, /--set colour: lms has no parameter 'colour'; its parameters are order/)
  const n = cli('solvers', '--show', 'ddim', '--nfe', '10', '--set', 'eta=1')
  assert.equal(n.code, 2)
  assert.match(n.err, /ddim has no parameters/)
  const w = cli('solvers', '--show', 'lms', '--nfe', '10', '--set', 'order')
  assert.equal(w.code, 2)
  assert.match(w.err, /--set expects key=value, got 'order'/)
})

test('the library build checks --set too (one parser): Solvers.byId(id).build throws on a bad value', async () => {
  const Solvers = await import('../src/solvers/index.ts')
  assert.throws(() => Solvers.byId('lms')!.build({ nfe: 10, set: { order: '9' } }), /--set order=9: expected an integer in 1–6/)
  assert.throws(() => Solvers.byId('dpmpp-3m')!.build({ nfe: 10, set: { parity: 'foo' } }), /one of exact, reference/)
  assert.throws(() => Solvers.byId('mrs-ode-2')!.build({ nfe: 10, set: { eulerAtFinal: 'no' } }), /one of true, false/)
  assert.equal(Solvers.byId('lms')!.build({ nfe: 10, set: { order: '3' } }).steps.length, 10)
})

test('lms --set order=9 no longer runs: sample refuses it, nothing written', () => {
  const o = path.join(tmp, 'lms9.json')
  const r = cli('sample', '--problem', golden, '--solver', 'lms', '--set', 'order=9', '--nfe', '12', '--xT', xT, '--out', o)
  assert.equal(r.code, 2, r.out)
  assert.ok(!fs.existsSync(o))
})

test('score-sde-pc --nfe 1 is an error (each step costs steps + 1 evaluations); --nfe 2 uses 2', () => {
  const r = cli('solvers', '--show', 'score-sde-pc', '--nfe', '1')
  assert.equal(r.code, 2)
  assert.match(r.err, /score-sde-pc --nfe 1: .*each step costs 2 evaluations.*use nfe ≥ 2 or steps = 0/)
  assert.equal(r.out, '')
  const ok = cli('solvers', '--show', 'score-sde-pc', '--nfe', '1', '--set', 'steps=0')
  assert.equal(ok.code, 0, ok.err)
  const f = path.join(tmp, 'pc.json')
  fs.writeFileSync(f, cli('solvers', '--show', 'score-sde-pc', '--nfe', '2').out)
  assert.match(cli('validate', f).out, /NFE 2/)
})

test('from-diffusers --nfe 1000 refuses to write an invalid schedule (the document is checked like validate)', () => {
  const out = path.join(tmp, 'fd1000.json')
  const r = cli('from-diffusers', path.join(root, 'examples/diffusers/scheduler_config.json'), '--nfe', '1000', '--out', out)
  assert.equal(r.code, 1, r.out)
  assert.match(r.err, /at --nfe 1000 is not a valid schedule document \(\d+ issues\):\ngrid\.t\[1\]: /)
  assert.match(r.err, /… and \d+ more/)
  assert.ok(!fs.existsSync(out))
  noTrace(r.err)
})

// -------------------------------------------------------------------------------------------------
// 1–2. problem files, start points and grids against the problem's schedule
// -------------------------------------------------------------------------------------------------

const base = read(golden) as { problem: Record<string, unknown>; schedule: Record<string, unknown> }
/** the golden problem with `edit` applied (a deep copy) */
const problemWith = (name: string, edit: (p: { problem: Record<string, unknown>; schedule: Record<string, unknown>; mu?: unknown }) => void): string => {
  const p = JSON.parse(JSON.stringify({ problem: base.problem, schedule: base.schedule })) as { problem: Record<string, unknown>; schedule: Record<string, unknown> }
  edit(p)
  return write(name, p)
}
const sampleWith = (problem: string, ...extra: string[]) => {
  const out = path.join(tmp, `out-${path.basename(problem)}`)
  const r = cli('sample', '--problem', problem, '--solver', 'ddim', '--nfe', '3', '--xT', xT, '--out', out, ...extra)
  return { ...r, wrote: fs.existsSync(out) }
}

test('problem files are validated at the boundary: every bad field is named with what was found and the fix', () => {
  const cases: ReadonlyArray<readonly [string, (p: { problem: Record<string, unknown>; schedule: Record<string, unknown>; mu?: unknown }) => void, RegExp]> = [
    ['k0', (p) => (p.problem['K'] = 0), /problem\.K: got 0; expected a positive integer/],
    ['k1', (p) => (p.problem['K'] = 1), /problem\.weights: 3 weights for K = 1 components; give one weight per component \(or set K to 3\)/],
    ['sum', (p) => (p.problem['weights'] = [0.5, 0.3, 0.1]), /problem\.weights: the weights sum to 0\.9.*must sum to 1 \(within 1e-9\)/],
    ['negw', (p) => (p.problem['weights'] = [1.2, -0.1, -0.1]), /problem\.weights\[1\]: got -0\.1; expected a positive number/],
    ['var0', (p) => ((p.problem['variances'] as number[][])[1]![0] = 0), /problem\.variances\[1\]\[0\]: got 0; expected a positive number/],
    ['width', (p) => (p.problem['means'] as number[][])[2]!.push(1), /problem\.means\[2\]: 3 numbers; expected D = 2/],
    ['rows', (p) => (p.problem['variances'] as number[][]).pop(), /problem\.variances: 2 rows for K = 3 components/],
    ['name', (p) => (p.schedule['name'] = 'cosine'), /schedule\.name: got "cosine"; expected one of discrete, linear, mean_reverting/],
    ['near', (p) => (p.schedule['name'] = 'lnear'), /did you mean 'linear'\?/],
    ['t0T', (p) => (p.schedule['t_0'] = 2), /schedule\.t_0: t_0 = 2 is not below T = 1/],
    ['mrT', (p) => ((p.schedule = { name: 'mean_reverting', lambda_inf: 0.1, T: 2 }), (p.mu = [0, 0])), /schedule\.T: T = 2 is above 1, the last time of the mean-reverting schedule/],
    ['mu', (p) => (p.mu = [1, 2]), /mu: "mu" is the condition of a mean_reverting schedule.*remove it/],
    ['nomu', (p) => (p.schedule = { name: 'mean_reverting', lambda_inf: 0.1 }), /mu: missing; a mean_reverting schedule needs the condition μ/],
  ]
  for (const [name, edit, message] of cases) {
    const r = sampleWith(problemWith(`${name}.json`, edit))
    assert.equal(r.code, 1, `${name}: ${r.out}`)
    assert.match(r.err, /is not a valid problem file \(\d+ issues?\):\n/, name)
    assert.match(r.err, message, `${name}: ${r.err}`)
    assert.ok(!r.wrote, `${name}: nothing written`)
    noTrace(r.err)
  }
})

test('a discrete problem: t_0 below its table or T above it is refused; the golden file itself decodes', () => {
  const g = read(discrete) as { problem: unknown; schedule: Record<string, unknown> }
  const lo = write('disc-t0.json', { problem: g.problem, schedule: { ...g.schedule, t_0: 1e-9 } })
  const r = sampleWith(lo)
  assert.equal(r.code, 1)
  assert.match(r.err, /schedule\.t_0: t_0 = 1e-9 is below 0\.001, the first time of the discrete schedule's table/)
  const hi = write('disc-T.json', { problem: g.problem, schedule: { ...g.schedule, T: 2 } })
  assert.match(sampleWith(hi).err, /schedule\.T: T = 2 is above 1/)
  assert.equal(sampleWith(discrete).code, 0)
})

test('start points: empty, wrong width or non-finite rows are refused on every interpreter', () => {
  for (const interpreter of ['float64', 'tfjs'])
    for (const [name, data, message] of [
      ['empty', [], /data: no rows; give at least one start point/],
      ['wide', [[1, 2, 3]], /data\[0\]: 3 numbers; expected D = 2/],
      ['null', [[1, null]], /data\[0\]\[1\]: got null; expected a finite number/],
      ['shape', { rows: 1 }, /data: got \{"rows":1\}; expected \{"data": \[\[x_1, …, x_D\], …\]\}/],
    ] as const) {
      const x = write(`x-${name}.json`, { data })
      const out = path.join(tmp, `o-${name}.json`)
      const r = cli('sample', '--problem', golden, '--solver', 'ddim', '--nfe', '3', '--xT', x, '--out', out, '--interpreter', interpreter)
      assert.equal(r.code, 1, `${interpreter} ${name}`)
      assert.match(r.err, message, `${interpreter} ${name}: ${r.err}`)
      assert.ok(!fs.existsSync(out))
    }
})

test('golden: a golden file whose x_T rows have the wrong width is refused with the path', () => {
  const g = read(golden) as Record<string, unknown> & { x_T: { data: number[][] } }
  g.x_T.data[3] = [1]
  const f = write('golden-bad.json', g)
  const r = cli('golden', f)
  assert.equal(r.code, 1)
  assert.match(r.err, /x_T\.data\[3\]: 1 number; expected D = 2/)
})

test('a schedule grid outside the problem schedule (times above T, T: 2, t0 below a discrete table) is refused, not extrapolated', () => {
  const steps = [
    { prediction: 'data', order: 1 },
    { prediction: 'data', order: 1 },
  ]
  const doc = (grid: unknown) => write(`grid-${Math.random().toString(36).slice(2)}.json`, { format: 'stepwise-schedule/v1', grid, steps })
  const cases = [
    [golden, doc({ spacing: 'explicit', t: [1.5, 0.5, 0.001] }), /grid\.t\[0\]: t = 1\.5 is above 1, the noise schedule's T/],
    [golden, doc({ spacing: 'logSNR', steps: 2, T: 2 }), /grid\.T: T = 2 is above 1, .*use T ≤ 1 or remove grid\.T/],
    [discrete, doc({ spacing: 'logSNR', steps: 2, t0: 1e-9 }), /grid\.t0: t0 = 1e-9 is below 0\.001, the first time where the vp-discrete schedule is defined/],
  ] as const
  for (const [problem, s, message] of cases) {
    const out = path.join(tmp, 'never-grid.json')
    const r = cli('sample', '--problem', problem, '--schedule', s, '--xT', xT, '--out', out)
    assert.equal(r.code, 1, r.out)
    assert.match(r.err, message, r.err)
    assert.ok(!fs.existsSync(out))
    const e = cli('explain', s, '--problem', problem)
    assert.equal(e.code, 1, e.out)
    assert.doesNotMatch(e.out, /NaN/)
    assert.match(e.err, message)
  }
})

// -------------------------------------------------------------------------------------------------
// 1–2. search on mean-reverting problems, all-non-finite searches, non-finite model outputs
// -------------------------------------------------------------------------------------------------

const small = ['--rows', '16', '--holdout-rows', '16', '--validation-rows', '0', '--threads', '0', '--quiet']

test('search on a mean-reverting problem runs the objective with μ: finite scores, no NaN ratios, a schedule that samples', () => {
  const mr = problemWith('mr.json', (p) => ((p.schedule = { name: 'mean_reverting', lambda_inf: 0.1 }), (p.mu = [0.5, -0.5])))
  const out = path.join(tmp, 'mr-s.json')
  const r = cli('search', '--problem', mr, '--nfe', '4', '--budget-evals', '60', '--out', out, ...small)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /best calibration mean L2 \d\.\d\de-\d+/)
  assert.doesNotMatch(r.out, /NaN|Infinity/)
  assert.match(r.out, /^ {2}mrs-ode-\d /m)
  const o = path.join(tmp, 'mr-o.json')
  const sm = cli('sample', '--problem', mr, '--schedule', out, '--xT', xT, '--out', o)
  assert.equal(sm.code, 0, sm.err)
})

test('search: when every candidate is non-finite it fails with the reason and writes no schedule', () => {
  const huge = problemWith('huge.json', (p) => {
    p.problem['means'] = [
      [1e160, 1e160],
      [-1e160, 1e160],
      [1e160, -1e160],
    ]
  })
  const out = path.join(tmp, 'huge-s.json')
  const r = cli('search', '--problem', huge, '--nfe', '4', '--budget-evals', '40', '--metric', 'swd', '--out', out, ...small)
  assert.equal(r.code, 1, r.out)
  assert.match(r.err, /every one of the 40 schedules evaluated scored non-finite on the calibration batch .* so there is no schedule to write; e\.g\. ddim: step 0: model output is NaN/)
  assert.match(r.err, /likely bad field: problem\.means\[0\]\[0\] = 1e\+160/)
  assert.ok(!fs.existsSync(out))
  noTrace(r.err)
})

test('a non-finite model output names the likely bad field; tfjs overflow advice is not "try a lower order"', () => {
  const huge = path.join(tmp, 'huge.json')
  const f = cli('sample', '--problem', huge, '--solver', 'ddim', '--nfe', '3', '--xT', xT, '--out', path.join(tmp, 'h.json'))
  assert.equal(f.code, 1)
  assert.match(f.err, /model output is NaN at element 0 \(row 0, column 0\) at t = 1 /)
  assert.match(f.err, /likely bad field: problem\.means\[0\]\[0\] = 1e\+160 \(.*float64; rescale the problem\)/)
  const big = write('x-big.json', { data: [[1e20, 1]] })
  const t = cli('sample', '--problem', golden, '--solver', 'ddim', '--nfe', '3', '--xT', big, '--out', path.join(tmp, 'hb.json'), '--interpreter', 'tfjs')
  assert.equal(t.code, 1)
  assert.match(t.err, /float32 overflow/)
  assert.doesNotMatch(t.err, /lower order/)
  assert.match(t.err, /likely bad field: x_T data\[0\]\[0\] = 100000000000000000000 .*float32/)
  assert.equal(cli('sample', '--problem', golden, '--solver', 'ddim', '--nfe', '3', '--xT', big, '--out', path.join(tmp, 'hb64.json')).code, 0, 'float64 holds it')
})

// -------------------------------------------------------------------------------------------------
// 4. interrupts and --resume with --minutes
// -------------------------------------------------------------------------------------------------

/** spawn the CLI, resolve with its exit code and output once it exits */
const spawnCli = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [path.join(root, 'bin/stepwise.js'), ...args], { cwd: tmp })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr.on('data', (b: Buffer) => (err += b.toString()))
  const done = new Promise<{ code: number | null; out: string; err: string }>((ok) => child.on('close', (code) => ok({ code, out, err })))
  return { child, done }
}

const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('SIGINT during search writes a checkpoint at the interrupt, says how to resume (exit 130); --resume continues it', async () => {
  const out = path.join(tmp, 'int.json')
  const ck = `${out}.checkpoint.json`
  const args = ['search', '--problem', golden, '--nfe', '5', '--minutes', '5', '--out', out, ...small]
  const run = spawnCli(args)
  // the first checkpoint-able progress: the initial population is checkpointed (generation 0)
  await waitFor(() => fs.existsSync(ck), 60_000)
  const first = read(ck) as { state: { evals: number } }
  await new Promise((r) => setTimeout(r, 300))
  run.child.kill('SIGINT')
  const r = await run.done
  assert.equal(r.code, 130, r.err)
  assert.match(r.err, /interrupted at generation \d+ after \d+ evaluations \(\d+:\d\d of search\); checkpoint written to .*int\.json\.checkpoint\.json/)
  assert.match(r.err, /resume with:\n {2}stepwise search .*--minutes 5 .*--resume/)
  noTrace(r.err)
  assert.ok(!fs.existsSync(out), 'no schedule written')
  const saved = read(ck) as { format: string; state: { evals: number; elapsed: number; generation: number } }
  assert.equal(saved.format, 'stepwise-search-checkpoint/v1')
  assert.ok(saved.state.evals >= first.state.evals && saved.state.elapsed > 0, JSON.stringify(saved.state).slice(0, 200))
  const again = cli('search', '--problem', golden, '--nfe', '5', '--budget-evals', String(saved.state.evals + 40), '--resume', '--out', out, ...small)
  assert.equal(again.code, 0, again.err)
  assert.match(again.out, new RegExp(`resuming .*: generation ${saved.state.generation}, ${saved.state.evals} evaluations`))
  assert.ok(fs.existsSync(out))
})

test('--resume with --minutes continues the remaining search time (stored in the checkpoint) instead of restarting the clock', () => {
  const out = path.join(tmp, 'min.json')
  const ck = `${out}.checkpoint.json`
  const first = cli('search', '--problem', golden, '--nfe', '4', '--strategy', 'evolution', '--minutes', '0.02', '--out', out, ...small)
  assert.equal(first.code, 0, first.err)
  const saved = read(ck) as { state: { evals: number; elapsed: number } }
  assert.ok(saved.state.elapsed >= 1200, `elapsed ${saved.state.elapsed} ms`)
  // the same budget again: nothing is left, so the resumed search evaluates nothing more
  const again = cli('search', '--problem', golden, '--nfe', '4', '--strategy', 'evolution', '--minutes', '0.02', '--resume', '--out', out, ...small)
  assert.equal(again.code, 0, again.err)
  assert.match(again.out, /no search time left of --minutes 0\.02/)
  assert.match(again.out, new RegExp(`searched ${saved.state.evals} schedules`))
  // a larger budget continues from the stored time: the rest of it (about 3 s), not a fresh budget
  const minutes = ((saved.state.elapsed + 3000) / 60_000).toFixed(4)
  const more = cli('search', '--problem', golden, '--nfe', '4', '--strategy', 'evolution', '--minutes', minutes, '--resume', '--out', out, ...small)
  assert.equal(more.code, 0, more.err)
  // the CLI prints the number it parsed (0.0700 → 0.07)
  assert.match(more.out, new RegExp(`0:0[234] of --minutes ${String(Number(minutes)).replace('.', '\\.')} left`), more.out)
  const after = read(ck) as { state: { evals: number; elapsed: number } }
  assert.ok(after.state.evals > saved.state.evals)
  // the search stops at the first batch boundary once the remaining time is spent (elapsed sums the runs, rounding by a few ms)
  assert.ok(after.state.elapsed >= Number(minutes) * 60_000 * 0.98, `elapsed ${after.state.elapsed}`)
})

// -------------------------------------------------------------------------------------------------
// 3. crashes: a closed stdout, the demo server's arguments
// -------------------------------------------------------------------------------------------------

test('stepwise solvers | head: a closed stdout ends quietly with exit 0 (no EPIPE stack trace)', () => {
  // `true` exits before the CLI writes, so every write meets a closed pipe
  const r = spawnSync('bash', ['-c', `set -o pipefail; '${process.execPath}' '${path.join(root, 'bin/stepwise.js')}' solvers | true`], { encoding: 'utf8', cwd: tmp })
  assert.equal(r.status, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /EPIPE/)
  assert.equal(r.stderr, '')
})

const demo = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'examples/browser/serve.ts'), ...args], { encoding: 'utf8', cwd: root, timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

test('npm run demo: --port abc, a missing or invalid schedule file: one clear line, non-zero exit', () => {
  const p = demo('--port', 'abc')
  assert.equal(p.code, 2)
  assert.match(p.err, /^stepwise demo: --port: expected a port number in 0–65535 \(0 = any free port\), got 'abc'\n$/)
  const m = demo(path.join(tmp, 'nope.json'), '--port', '0')
  assert.equal(m.code, 1)
  assert.match(m.err, /^stepwise demo: cannot read schedule file .*nope\.json: ENOENT/)
  const bad = write('bad-demo.json', { format: 'stepwise-schedule/v1', grid: { spacing: 'logSNR', steps: 1 }, steps: [{ prediction: 'data', order: 2 }] })
  const b = demo(bad, '--port', '0')
  assert.equal(b.code, 1)
  assert.match(b.err, /bad-demo\.json is not a valid schedule document:\nsteps\[0\]\.order: /)
  for (const r of [p, m, b]) noTrace(r.err)
})

test('npm run demo on a busy port: names the port and the fix, exit 1', async () => {
  const net = await import('node:net')
  const busy = net.createServer()
  await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok))
  const port = (busy.address() as { port: number }).port
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'examples/browser/serve.ts'), '--port', String(port)], { cwd: root })
    let err = ''
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const code = await new Promise<number | null>((ok) => child.on('close', ok))
    assert.equal(code, 1)
    assert.match(err, new RegExp(`port ${port} is in use .*pass --port N, or --port 0 for any free port`))
    noTrace(err)
  } finally {
    busy.close()
  }
})

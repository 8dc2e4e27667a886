/**
 * `stepwise search` as a user runs it (node bin/stepwise.js …): a tiny search on a problem file with
 * no runs and no ground truth, whose output validates, explains and samples at exactly the budget;
 * the same seed gives the same file (inline or on 2 threads); resume from a checkpoint; clear errors.
 */
import * as assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'node:test'
import * as Gmm from '../src/core/Gmm.ts'

const root = path.join(import.meta.dirname, '..')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stepwise-search-'))
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/stepwise.js'), ...args], { encoding: 'utf8', cwd: tmp, timeout: 120_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** a problem file with only {problem, schedule}: 3-D mixture of 3, VP linear */
const problemFile = path.join(tmp, 'p.json')
const g = Gmm.random(3, 3, 21)
fs.writeFileSync(problemFile, JSON.stringify({ problem: g, schedule: { name: 'linear', beta_0: 0.1, beta_1: 20 } }))

const small = ['--rows', '24', '--holdout-rows', '48', '--quiet']

test('search → validate → explain → sample: the output is a schedule document at exactly the budget', () => {
  const out = path.join(tmp, 's.json')
  const r = cli('search', '--problem', problemFile, '--nfe', '4', '--budget-evals', '150', '--threads', '0', '--out', out, ...small)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /searched 150 schedules/)
  assert.match(r.out, /held-out: 48 start points \(seed 1000003\)/)
  assert.match(r.out, /^ {2}searched /m)
  assert.match(r.out, /searched \/ best named \(/)
  const v = cli('validate', out)
  assert.equal(v.code, 0, v.out)
  assert.match(v.out, /NFE 4/)
  const ex = cli('explain', out, '--problem', problemFile)
  assert.equal(ex.code, 0, ex.err)
  assert.match(ex.out, /step 0/)
  const x = path.join(tmp, 'x.json')
  fs.writeFileSync(
    x,
    JSON.stringify({
      data: [
        [0.1, -0.3, 0.7],
        [1.5, 0.2, -1],
      ],
    }),
  )
  const o = path.join(tmp, 'o.json')
  const sm = cli('sample', '--problem', problemFile, '--schedule', out, '--xT', x, '--out', o)
  assert.equal(sm.code, 0, sm.err)
  const res = JSON.parse(fs.readFileSync(o, 'utf8')) as { x0: number[][]; nfe: number }
  assert.equal(res.nfe, 4)
  assert.ok(res.x0.flat().every(Number.isFinite))
})

test('same seed ⇒ the same schedule file, inline or on 2 worker threads; another seed differs', () => {
  const run = (name: string, ...extra: string[]) => {
    const out = path.join(tmp, name)
    const r = cli('search', '--problem', problemFile, '--nfe', '5', '--budget-evals', '400', '--strategy', 'evolution', '--out', out, ...small, ...extra)
    assert.equal(r.code, 0, r.err)
    return fs.readFileSync(out, 'utf8')
  }
  const a = run('a.json', '--threads', '0')
  assert.equal(run('b.json', '--threads', '2'), a)
  assert.notEqual(run('c.json', '--threads', '0', '--seed', '1').replace(/seed 1/, 'seed 0'), a)
})

test('checkpoint: a search resumes from --checkpoint and extends its budget', () => {
  const ck = path.join(tmp, 'ck.json')
  const out = path.join(tmp, 'r.json')
  const first = cli('search', '--problem', problemFile, '--nfe', '4', '--budget-evals', '100', '--threads', '0', '--checkpoint', ck, '--out', out, ...small)
  assert.equal(first.code, 0, first.err)
  const saved = JSON.parse(fs.readFileSync(ck, 'utf8')) as { format: string; state: { evals: number } }
  assert.equal(saved.format, 'stepwise-search-checkpoint/v1')
  assert.equal(saved.state.evals, 90) // 10 of the 100 are the validation choice
  const second = cli('search', '--problem', problemFile, '--nfe', '4', '--budget-evals', '160', '--threads', '0', '--checkpoint', ck, '--out', out, ...small)
  assert.equal(second.code, 0, second.err)
  assert.match(second.out, /resuming .*90 evaluations/)
  assert.match(second.out, /searched 160 schedules/)
  const other = cli('search', '--problem', problemFile, '--nfe', '5', '--budget-evals', '50', '--threads', '0', '--checkpoint', ck, '--out', out, ...small)
  assert.equal(other.code, 1)
  assert.match(other.err, /another search: nfe is 4 in the checkpoint but 5 now/)
  assert.equal(cli('search', '--problem', problemFile, '--nfe', '4', '--resume', '--out', path.join(tmp, 'none.json'), ...small).code, 1)
})

test('the golden file: its reference runs are compared on their own rows', () => {
  const r = cli('search', '--problem', path.join(root, 'test/golden/d2_k3.linear.json'), '--nfe', '5', '--budget-evals', '100', '--threads', '0', '--out', path.join(tmp, 'gd.json'), ...small)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /reference runs in d2_k3\.linear\.json at NFE 5: best \S+ \d\.\d\de-\d+ \(its x_T rows\); searched on the same rows/)
})

test('bad input: clear errors, usage errors exit 2', () => {
  const one = cli('search', '--problem', problemFile, '--nfe', '1')
  assert.equal(one.code, 2)
  assert.match(one.err, /--nfe: expected an integer in 2–50, got '1'/)
  assert.equal(cli('search', '--nfe', '5').code, 2)
  assert.equal(cli('search', '--problem', problemFile, '--nfe', '5', '--strategy', 'magic').code, 2)
  const noProblem = path.join(tmp, 'np.json')
  fs.writeFileSync(noProblem, JSON.stringify({ schedule: { name: 'linear' }, runs: [] }))
  const np = cli('search', '--problem', noProblem, '--nfe', '5', '--budget-evals', '10')
  assert.equal(np.code, 1)
  assert.match(np.err, /has no 'problem' key; expected the golden format's/)
  assert.equal(cli('search', '--help').code, 0)
})

/**
 * The S³ predictor's network on tfjs (wasm backend, cpu fallback): a 2-hidden-layer MLP trained with a
 * pairwise hinge loss on (better, worse) candidate pairs; features and Kendall's τ live in search/Predictor.ts.
 */
import type * as tfType from '@tensorflow/tfjs'
import * as R from './Rng.ts'
import { defaults, features, kendall, type Ranker, type Scored, type Settings, targets, width } from './Predictor.ts'

let tfReady: Promise<typeof tfType> | undefined

/** tfjs on the wasm backend (cpu if wasm cannot start); loaded once, on first use */
export const loadTf = (): Promise<typeof tfType> => {
  tfReady ??= (async () => {
    const tf = await import('@tensorflow/tfjs')
    try {
      await import('@tensorflow/tfjs-backend-wasm')
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend unavailable')
    } catch {
      await tf.setBackend('cpu')
    }
    await tf.ready()
    return tf
  })()
  return tfReady
}

/**
 * train a ranker on evaluated candidates of one budget (the most recent `maxData`); 20% (every fifth)
 * are held out to measure Kendall's τ, then the net is trained on all of them
 */
export const train = async (nfe: number, data: ReadonlyArray<Scored>, seed: number, s: Settings = defaults): Promise<Ranker> => {
  const tf = await loadTf()
  const used = data.slice(-s.maxData)
  const F = width(nfe)
  const N = used.length
  const X = new Float32Array(N * F)
  used.forEach((d, i) => X.set(features(nfe)(d.candidate), i * F))
  const y = targets(used)
  const r = R.make(seed)
  const glorot = (rows: number, cols: number) => {
    const lim = Math.sqrt(6 / (rows + cols))
    return tf.variable(
      tf.tensor2d(
        Float32Array.from({ length: rows * cols }, () => (2 * R.next(r) - 1) * lim),
        [rows, cols],
      ),
    )
  }
  const W1 = glorot(F, s.hidden)
  const b1 = tf.variable(tf.zeros([s.hidden]))
  const W2 = glorot(s.hidden, s.hidden)
  const b2 = tf.variable(tf.zeros([s.hidden]))
  const W3 = glorot(s.hidden, 1)
  const net = (x: tfType.Tensor2D): tfType.Tensor1D =>
    tf.tidy(
      () =>
        tf
          .relu(tf.relu(x.matMul(W1).add(b1)).matMul(W2).add(b2))
          .matMul(W3)
          .squeeze([1]) as tfType.Tensor1D,
    )
  const Xt = tf.tensor2d(X, [N, F])

  /** `count` pairs (i better than j) among the allowed rows */
  const drawPairs = (allowed: (i: number) => boolean, count: number) => {
    const bi: number[] = []
    const bj: number[] = []
    for (let tries = 0; bi.length < count && tries < 20 * count; tries++) {
      const i = R.int(r, N)
      const j = R.int(r, N)
      if (!allowed(i) || !allowed(j) || Math.abs(y[i]! - y[j]!) < s.margin) continue
      if (y[i]! < y[j]!) {
        bi.push(i)
        bj.push(j)
      } else {
        bi.push(j)
        bj.push(i)
      }
    }
    return { bi, bj }
  }
  const fit = (allowed: (i: number) => boolean, steps: number) => {
    const opt = tf.train.adam(s.learningRate)
    for (let k = 0; k < steps; k++) {
      const { bi, bj } = drawPairs(allowed, s.pairs)
      if (bi.length === 0) break
      // one gather and one forward pass for both sides of every pair: rows [i…; j…]
      const idx = tf.tensor1d([...bi, ...bj], 'int32')
      const m = bi.length
      opt.minimize(() => {
        const out = net(tf.gather(Xt, idx))
        return tf.relu(tf.sub(1, tf.sub(out.slice(m, m), out.slice(0, m)))).mean() as tfType.Scalar
      })
      idx.dispose()
    }
    opt.dispose()
  }
  const scoreRows = (rows: Float32Array, count: number): Float32Array => {
    if (count === 0) return new Float32Array(0)
    const t = tf.tensor2d(rows, [count, F])
    const out = net(t)
    const v = out.dataSync() as Float32Array
    t.dispose()
    out.dispose()
    return Float32Array.from(v)
  }
  // held-out τ: fit on 4/5, rank the remaining fifth
  const held = Array.from({ length: N }, (_, i) => i).filter((i) => i % 5 === 4)
  fit((i) => i % 5 !== 4, Math.ceil(s.steps / 2))
  const heldX = new Float32Array(held.length * F)
  held.forEach((i, k) => heldX.set(X.subarray(i * F, (i + 1) * F), k * F))
  const tau =
    held.length < 3
      ? 0
      : kendall(
          scoreRows(heldX, held.length),
          held.map((i) => y[i]!),
        )
  fit(() => true, s.steps)
  Xt.dispose()
  return {
    tau,
    rank: (cs) => {
      const rows = new Float32Array(cs.length * F)
      cs.forEach((c, k) => rows.set(features(nfe)(c), k * F))
      return scoreRows(rows, cs.length)
    },
    dispose: () => [W1, b1, W2, b2, W3].forEach((v) => v.dispose()),
  }
}

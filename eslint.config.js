// Lint enforces the layers (see README "How it is built"), lowest first:
//   core (numbers) ← ir (instructions, builder) ← steps (step behaviours) ← schedule (document, codec, compile) ← solvers
//   models (model types and analytic models) import core only; run (exec, Float64, Trace, Tfjs) sits above them all;
//   interop, search and cli beside/above run. TensorFlow.js and onnxruntime only in the tfjs run files and src/models;
//   nothing outside src/cli imports src/cli.
import tseslint from 'typescript-eslint'

const tensorLibs = { group: ['@tensorflow/*', 'onnxruntime-*'], message: 'TensorFlow.js / onnxruntime only in the tfjs run layer (src/run/Tfjs*.ts, src/run/Backends.ts), src/models, the predictor net (src/search/TfjsPredictor.ts), the model-card adapters (src/interop/Card*.ts) and src/tfjs.ts' }
const cli = { group: ['**/cli/*', './cli/*'], message: 'only src/cli imports the CLI' }
const dirs = (...names) => names.flatMap((n) => [`**/${n}/*`, `../${n}/*`])
const above = (layer, names) => ({ group: dirs(...names), message: `${layer} imports nothing above it (${names.join(', ')})` })
const layer = (files, name, forbidden, extra = {}) => ({
  files,
  ...extra,
  rules: { 'no-restricted-imports': ['error', { patterns: [tensorLibs, cli, above(name, forbidden)] }] },
})

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'scratch/**', 'examples/browser/dist/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {},
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/run/Tfjs*.ts', 'src/run/Backends.ts', 'src/run/Kernel.ts', 'src/search/TfjsPredictor.ts', 'src/interop/Card*.ts', 'src/models/**', 'src/tfjs.ts', 'src/cli/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [tensorLibs, cli] }] },
  },
  layer(['src/core/**/*.ts'], 'the core', ['ir', 'steps', 'schedule', 'solvers', 'models', 'run', 'interop', 'search', 'cli']),
  // a program records the document it came from: ir may name the schedule's *types*, never its values
  {
    files: ['src/ir/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [tensorLibs, cli, above('the instruction layer', ['steps', 'solvers', 'models', 'run', 'interop', 'search', 'cli'])] }],
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: dirs('schedule'), allowTypeImports: true, message: 'the instruction layer may import only types from the schedule layer' }] }],
    },
  },
  layer(['src/steps/**/*.ts'], 'a step behaviour', ['schedule', 'solvers', 'models', 'run', 'interop', 'search', 'cli']),
  layer(['src/schedule/**/*.ts'], 'the schedule layer', ['solvers', 'models', 'run', 'interop', 'search', 'cli']),
  layer(['src/solvers/**/*.ts'], 'a named solver', ['models', 'run', 'interop', 'search', 'cli']),
  // models may use tfjs (a network is a model); they see the numbers and, for networks, the tfjs run layer's IO only
  {
    files: ['src/models/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            cli,
            above('a model', ['ir', 'steps', 'schedule', 'solvers', 'interop', 'search', 'cli']),
            { group: [...dirs('run'), '!**/run/TfjsModel.ts', '!**/run/Tfjs.ts'], message: 'a model uses only the tfjs IO of the run layer (run/TfjsModel.ts, run/Tfjs.ts)' },
          ],
        },
      ],
    },
  },
  layer(['src/run/**/*.ts'], 'the run layer', ['interop', 'search', 'cli'], { ignores: ['src/run/Tfjs*.ts', 'src/run/Backends.ts', 'src/run/Kernel.ts'] }),
  {
    files: ['src/run/Tfjs*.ts', 'src/run/Backends.ts', 'src/run/Kernel.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [cli, above('the run layer', ['interop', 'search', 'cli'])] }] },
  },
)

// Lint enforces the layers (see README "How it is built"): TensorFlow.js and onnxruntime only in the run layer
// (src/interpreters, src/models, src/tfjs.ts); nothing outside src/cli imports src/cli; the numeric core and the
// instruction layer import nothing above them; step behaviours do not reach the program, interpreters, search or CLI.
import tseslint from 'typescript-eslint'

const tensorLibs = { group: ['@tensorflow/*', 'onnxruntime-*'], message: 'TensorFlow.js / onnxruntime only in the run layer (src/interpreters, src/models, src/tfjs.ts)' }
const cli = { group: ['**/cli/*', './cli/*'], message: 'only src/cli imports the CLI' }
const above = (what, names) => ({ group: names, message: `${what} imports nothing above it (steps, compile, program, interpreters, search, cli)` })
const aboveCore = ['**/steps/*', './steps/*', '**/Compile.ts', '**/Program.ts', '**/interpreters/*', './interpreters/*', '**/search/*', './search/*', '**/cli/*', './cli/*', '**/solvers/*', './solvers/*']

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'out/**', 'scratch/**', 'src/__old/**', 'examples/browser/dist/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {},
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/interpreters/**', 'src/models/**', 'src/tfjs.ts', 'src/cli/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [tensorLibs, cli] }] },
  },
  {
    files: ['src/NoiseSchedule.ts', 'src/Grid.ts', 'src/Rule.ts', 'src/Parameterization.ts', 'src/Betas.ts', 'src/Linear.ts', 'src/Noise.ts', 'src/codecs/util.ts', 'src/ir/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [tensorLibs, cli, above('the core', aboveCore)] }] },
  },
  {
    files: ['src/steps/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [tensorLibs, cli, above('a step behaviour', ['**/Compile.ts', '**/Program.ts', '**/interpreters/*', '**/search/*', '**/cli/*', '**/solvers/*'])] },
      ],
    },
  },
)

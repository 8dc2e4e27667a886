/**
 * stepwise/tfjs: the TensorFlow.js interpreter (its functions at the top level, as `interpreters/Tfjs.ts`
 * exports them), plus saved-network models, backend selection and the exact mixture model as namespaces.
 */
export * from './interpreters/Tfjs.ts'
export * as TfjsModel from './interpreters/TfjsModel.ts'
export * as Backends from './interpreters/Backends.ts'
export * as TfjsGmm from './interpreters/TfjsGmm.ts'
export * as TfjsGuidance from './interpreters/TfjsGuidance.ts'

/**
 * stepwise/tfjs: the TensorFlow.js interpreter (its functions at the top level, as `run/Tfjs.ts`
 * exports them), plus saved-network models, backend selection and the exact mixture model as namespaces.
 */
export * from './run/Tfjs.ts'
export * as TfjsModel from './run/TfjsModel.ts'
export * as Backends from './run/Backends.ts'
export * as TfjsGmm from './run/TfjsGmm.ts'
export * as TfjsGuidance from './run/TfjsGuidance.ts'
export * as CardModel from './interop/CardModel.ts'
export * as CardMetrics from './interop/CardMetrics.ts'
export * as Teacher from './interop/Teacher.ts'

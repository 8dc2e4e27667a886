/**
 * stepwise: composable fast samplers for diffusion models. Each concept is a module, imported as a namespace.
 */
export * as NoiseSchedule from './NoiseSchedule.ts'
export * as Grid from './Grid.ts'
export * as Parameterization from './Parameterization.ts'
export * as Rule from './Rule.ts'
export * as OrderPolicy from './OrderPolicy.ts'
export * as SolverSchedule from './SolverSchedule.ts'
export * as Program from './Program.ts'
export * as Linear from './Linear.ts'
export * as Model from './Model.ts'
export * as Gmm from './Gmm.ts'
export * as Golden from './Golden.ts'
export * as Solvers from './solvers/index.ts'
export * as Float64 from './interpreters/Float64.ts'
export * as Trace from './interpreters/Trace.ts'
export * as ScheduleCodec from './codecs/SolverSchedule.ts'

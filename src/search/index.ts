/**
 * Solver-schedule search (USF / S³): the space of schedules, the objective, the evolutionary search
 * with its S³ predictor, evaluation over worker threads and checkpoints. Each concept is a module,
 * imported as a namespace.
 */
export * as Rng from './Rng.ts'
export * as Space from './Space.ts'
export * as Objective from './Objective.ts'
export * as NelderMead from './NelderMead.ts'
export * as Predictor from './Predictor.ts'
export * as Evolution from './Evolution.ts'
export * as Pool from './Pool.ts'
export * as Checkpoint from './Checkpoint.ts'

/** The exchange simulator's public surface (see README.md beside this file). */
export { startExchangeSimulator, simulatorLimits } from './simulator.js';
export type { ExchangeSimulator, ExchangeSimulatorOptions, InitialFaults, SimulatorFaults, SimulatorStats } from './simulator.js';
export type { Discrepancy, DoubleApplyTradeSpec, DropLedgerWriteSpec, EngineOnlyChangeSpec, FaultHandle, FaultKind, FaultReport } from './faults.js';
export { houseCustody, houseFees } from './operation.js';
export { feeSchedule } from './operation-generator.js';

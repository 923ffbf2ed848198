/** The pure account finite-state machine: no I/O, no clock (time is passed in). */
export {
  accountStates,
  authorities,
  capabilitiesOf,
  isTerminal,
  isAccountState,
  isAuthority,
  type AccountState,
  type Authority,
  type Capabilities,
  type AccountSnapshot,
} from './states.js';
export { allowedEdges, findEdge, checkEdge, type Edge } from './edges.js';
export { DEFAULT_COOLING_OFF_MS, CLOSURE_REQUESTED, startsPendingClosure } from './closure.js';
export {
  decideTransition,
  type TransitionRequest,
  type ForbiddenReason,
  type ForbiddenTransition,
  type TransitionResult,
} from './decide.js';
export { eventNameFor } from './events.js';
export { replayTransitions, ReplayError, type TransitionRecord } from './replay.js';

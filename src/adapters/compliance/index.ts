/** The screening and KYC providers' side: their event contract and a simulator that speaks it. */
export * from './contract.js';
export * from './simulator.js';

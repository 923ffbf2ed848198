/** The matching engine adapter's public surface: the wire contract and the snapshot client. */
export * from './contract.js';
export * from './snapshot-client.js';
export * from './fill-contract.js';
export * from './engine-commands.js';

/** Mark prices for the close: the source interface and the demo's simulated source. */
export * from './mark-price-source.js';
export * from './simulated-mark-prices.js';

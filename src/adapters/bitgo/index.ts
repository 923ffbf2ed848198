export { createBitgoCustodyClient, defaultBitgoClientLimits, type BitgoClientOptions, type BitgoCustodyClient, type WalletAddress, type WalletReadError, type WalletReadErrorCode, type WalletReadResult } from './client.js';
export { baseUnitsToLedgerMinor, coinDecimals, decimalsOfCoin } from './coin-decimals.js';
export { isV2AccessToken } from './hmac.js';
export { parseWalletResponse, walletResponseSchema, type WalletReading } from './wallet-response.js';

-- Up Migration

-- Money between the ledger and the custodian (docs/bitgo-custody.md, "In flight").
-- Written by the deposit, withdrawal, treasury and staking services; read by the
-- db_custody reconciler. A pending row widens (deposit, withdrawal) the asset's
-- tolerance or explains (gas_fee, reward) a break; it never causes one.
--   deposit     seen on chain, confirming, not yet credited. Settles by itself once the
--               ledger has an entry reference_type 'deposit', reference_id = reference.
--   withdrawal  debited in the ledger and broadcast, not yet confirmed on chain. Settles
--               when its writer sets status 'settled' (confirmed) or 'cancelled'.
--   gas_fee     a network fee the hot wallet paid, not yet booked. Settles by itself once
--               the ledger has an entry reference_type 'gas_fee', reference_id = reference.
--   reward      staking rewards received by a wallet, not yet distributed. Settles by itself
--               once the ledger has an entry reference_type 'staking_reward', reference_id = reference.
CREATE TABLE custody_in_flight (
  id          bigserial      PRIMARY KEY,
  currency    text           NOT NULL,
  direction   text           NOT NULL CHECK (direction IN ('deposit', 'withdrawal', 'gas_fee', 'reward')),
  amount      numeric(38,18) NOT NULL CHECK (amount > 0),
  reference   text           NOT NULL,
  wallet_id   text           NULL,
  status      text           NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'settled', 'cancelled')),
  created_at  timestamptz    NOT NULL DEFAULT now(),
  updated_at  timestamptz    NOT NULL DEFAULT now(),
  UNIQUE (currency, direction, reference)
);
CREATE INDEX custody_in_flight_pending ON custody_in_flight (currency, direction) WHERE status = 'pending';

-- The hot-wallet float per asset: the exchange's operating float, part of the asset's
-- tolerance (absolute CUSTODY_TOLERANCES + float + in flight). Set by treasury, not a setting,
-- because it moves with operations and must not need a restart.
CREATE TABLE custody_hot_wallet_floats (
  currency    text           PRIMARY KEY,
  amount      numeric(38,18) NOT NULL CHECK (amount >= 0),
  reason      text           NOT NULL,
  updated_by  text           NOT NULL,
  updated_at  timestamptz    NOT NULL DEFAULT now()
);

-- Settling in-flight rows looks the ledger up by reference.
CREATE INDEX IF NOT EXISTS ledger_entries_reference ON ledger_entries (reference_type, reference_id);

-- The db_custody running totals: what the ledger says is held per asset (−Σ house:custody),
-- saved with the ledger watermark (recon_watermarks, boundary 'db_custody') at each check.
CREATE TABLE recon_db_custody_ledger_totals (
  currency text           PRIMARY KEY,
  held     numeric(38,18) NOT NULL
);

-- Down Migration
DROP TABLE recon_db_custody_ledger_totals;
DROP INDEX IF EXISTS ledger_entries_reference;
DROP TABLE custody_hot_wallet_floats;
DROP TABLE custody_in_flight;

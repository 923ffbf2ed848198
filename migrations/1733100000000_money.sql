-- Up Migration

-- The close's money and compliance steps (issue 9; ADRs 0022 and 0023).

-- Matching engine fills (DESIGN.md §6 `me.fill.<userId>`), stored once by fillId.
CREATE TABLE fills (
  fill_id       text           PRIMARY KEY,
  seq           bigint         NOT NULL,
  user_id       text           NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  market        text           NOT NULL,
  base          text           NOT NULL,
  quote         text           NOT NULL,
  side          text           NOT NULL CHECK (side IN ('buy', 'sell')),
  liquidity     text           NOT NULL CHECK (liquidity IN ('maker', 'taker')),
  price         numeric(38,18) NOT NULL CHECK (price > 0),
  quantity      numeric(38,18) NOT NULL CHECK (quantity > 0),
  fee           numeric(38,18) NOT NULL CHECK (fee >= 0),
  fee_currency  text           NOT NULL,
  ts            timestamptz    NOT NULL,
  received_at   timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX fills_ts ON fills (ts);
CREATE INDEX fills_user_ts ON fills (user_id, ts);
-- The simulated mark price: the last trade of a market before an instant.
CREATE INDEX fills_market_ts ON fills (market, ts, seq);

-- The engine's own postings (fee accrual, staking rewards, admin adjustments) happen once:
-- one row per (reference, account). Other reference types (trades) may repeat an account.
CREATE UNIQUE INDEX ledger_entries_engine_postings_once ON ledger_entries (reference_type, reference_id, user_id)
  WHERE reference_type IN ('fee_accrual', 'staking_reward', 'admin_adjustment');

-- admin.balance.adjust: the reason and actor beside the journal; the key answers a repeat.
CREATE TABLE admin_adjustments (
  idempotency_key text           PRIMARY KEY,
  entry_id        text           NOT NULL UNIQUE,
  user_id         text           NOT NULL,
  currency        text           NOT NULL,
  amount          numeric(38,18) NOT NULL CHECK (amount <> 0),
  reason          text           NOT NULL CHECK (length(reason) > 0),
  actor_id        text           NOT NULL,
  account_state   text           NOT NULL,
  created_at      timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX admin_adjustments_created_at ON admin_adjustments (created_at);

-- Compliance events as they arrived, and what the engine did with each (steps 9 and 10 list them).
CREATE TABLE compliance_events (
  event_key    text        PRIMARY KEY,
  kind         text        NOT NULL CHECK (kind IN ('sanctions_hit', 'kyc_reverified')),
  user_id      text        NOT NULL,
  list         text        NULL,
  reference    text        NOT NULL,
  ts           timestamptz NOT NULL,
  outcome      text        NOT NULL CHECK (outcome IN ('applied', 'already', 'refused', 'unknown_account', 'error')),
  from_state   text        NULL,
  to_state     text        NULL,
  detail       text        NOT NULL,
  command_id   text        NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compliance_events_ts ON compliance_events (ts);

-- Fee tiers per user, effective from a business date (step 4 writes the next day's).
CREATE TABLE user_fee_tiers (
  effective_date date        NOT NULL,
  user_id        text        NOT NULL,
  tier           integer     NOT NULL CHECK (tier >= 0),
  volume_30d     numeric(38,18) NOT NULL,
  maker_fee_rate numeric(38,18) NOT NULL,
  taker_fee_rate numeric(38,18) NOT NULL,
  PRIMARY KEY (effective_date, user_id)
);

-- Positions by weighted average cost at each close (step 2): the next day starts from them.
CREATE TABLE pnl_positions (
  business_date date           NOT NULL,
  user_id       text           NOT NULL,
  market        text           NOT NULL,
  quantity      numeric(38,18) NOT NULL,
  cost          numeric(38,18) NOT NULL,
  realised      numeric(38,18) NOT NULL,
  mark_price    numeric(38,18) NULL,
  unrealised    numeric(38,18) NULL,
  PRIMARY KEY (business_date, user_id, market)
);

-- Down Migration
DROP TABLE pnl_positions;
DROP TABLE user_fee_tiers;
DROP TABLE compliance_events;
DROP TABLE admin_adjustments;
DROP INDEX ledger_entries_engine_postings_once;
DROP TABLE fills;

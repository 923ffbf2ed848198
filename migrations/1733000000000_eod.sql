-- Up Migration

-- The nightly close (DESIGN.md §5, ADRs 0015 and 0016).

-- One row per (business date, step): a re-run skips what completed, re-does what failed.
CREATE TABLE eod_runs (
  business_date date        NOT NULL,
  step          text        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped')),
  attempts      integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  started_at    timestamptz NULL,
  ended_at      timestamptz NULL,
  error         text        NULL,
  output        jsonb       NULL,
  fence_token   bigint      NULL,
  PRIMARY KEY (business_date, step)
);

-- The sealed reports, hash-chained by date. Written once; never updated except published_at.
CREATE TABLE eod_reports (
  business_date date        PRIMARY KEY,
  sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  prev_sha256   text        NULL CHECK (prev_sha256 ~ '^[0-9a-f]{64}$'),
  signature     text        NOT NULL,
  public_key    text        NOT NULL,
  report        jsonb       NOT NULL,
  sealed_at     timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz NULL
);

-- Each user's balance at the cut, from the engine side (the last balance event before it).
CREATE TABLE user_balance_snapshots (
  business_date date           NOT NULL,
  user_id       text           NOT NULL,
  currency      text           NOT NULL,
  total         numeric(38,18) NOT NULL,
  locked        numeric(38,18) NOT NULL,
  available     numeric(38,18) NOT NULL,
  engine_seq    bigint         NOT NULL,
  salt          bytea          NOT NULL CHECK (length(salt) = 32),
  PRIMARY KEY (business_date, user_id, currency),
  CHECK (total = locked + available)
);

-- The ledger's close at the cut: Σ amount per (account, currency), house accounts included.
-- The next day's close starts from it (the close costs what the day changed).
CREATE TABLE eod_ledger_balances (
  business_date date           NOT NULL,
  account       text           NOT NULL,
  currency      text           NOT NULL,
  total         numeric(38,18) NOT NULL,
  PRIMARY KEY (business_date, account, currency)
);

-- One Merkle-sum root per (date, currency) (DESIGN.md §7). The seed derives the salts; it is
-- as secret as the salts and is never published.
CREATE TABLE proof_of_reserves (
  business_date date           NOT NULL,
  currency      text           NOT NULL,
  root_hash     text           NOT NULL CHECK (root_hash ~ '^[0-9a-f]{64}$'),
  total         numeric(38,18) NOT NULL,
  leaf_count    integer        NOT NULL CHECK (leaf_count > 0),
  padding_seed  bytea          NOT NULL,
  PRIMARY KEY (business_date, currency)
);

-- Engine balance events as the me_db reconciler applied them, written in its checkpoint
-- transaction: the engine side at any cut is the last event per key with ts before it.
CREATE TABLE engine_balance_history (
  seq        bigint         PRIMARY KEY,
  user_id    text           NOT NULL,
  currency   text           NOT NULL,
  total      numeric(38,18) NOT NULL,
  locked     numeric(38,18) NOT NULL,
  available  numeric(38,18) NOT NULL,
  ts         timestamptz    NOT NULL
);
CREATE INDEX engine_balance_history_ts ON engine_balance_history (ts);

-- Custody polls as the db_custody reconciler read them: the cut takes the first at or after it.
CREATE TABLE custody_poll_readings (
  wallet      text           NOT NULL,
  currency    text           NOT NULL,
  polled_at   timestamptz    NOT NULL,
  balance     numeric(38,18) NOT NULL,
  PRIMARY KEY (wallet, polled_at)
);
CREATE INDEX custody_poll_readings_at ON custody_poll_readings (polled_at);

-- Staking positions over time (the staking service only keeps the latest): the cut takes the
-- last version of each position with updated_at before it. Kept by a trigger, seeded here.
CREATE TABLE staking_position_history (
  id         bigserial      PRIMARY KEY,
  user_id    text           NOT NULL,
  address    text           NOT NULL,
  amount     numeric(38,18) NOT NULL,
  updated_at timestamptz    NOT NULL
);
CREATE INDEX staking_position_history_at ON staking_position_history (updated_at);
INSERT INTO staking_position_history (user_id, address, amount, updated_at)
  SELECT user_id, address, amount, updated_at FROM staking_positions;
CREATE FUNCTION record_staking_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO staking_position_history (user_id, address, amount, updated_at) VALUES (OLD.user_id, OLD.address, 0, now());
    RETURN OLD;
  END IF;
  INSERT INTO staking_position_history (user_id, address, amount, updated_at) VALUES (NEW.user_id, NEW.address, NEW.amount, NEW.updated_at);
  RETURN NEW;
END;
$$;
CREATE TRIGGER staking_positions_history AFTER INSERT OR UPDATE OR DELETE ON staking_positions
  FOR EACH ROW EXECUTE FUNCTION record_staking_position();

-- The ledger by time: the close reads the day's rows ([start, end) of the window).
CREATE INDEX ledger_entries_created_at ON ledger_entries (created_at);

-- Sealed days and their windows: the ledger refuses a row dated inside one.
CREATE TABLE eod_sealed_days (
  business_date date        PRIMARY KEY,
  window_start  timestamptz NOT NULL,
  window_end    timestamptz NOT NULL,
  CHECK (window_start < window_end)
);
CREATE INDEX eod_sealed_days_window ON eod_sealed_days (window_start, window_end);

CREATE FUNCTION refuse_entry_in_sealed_day() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sealed date;
BEGIN
  SELECT business_date INTO sealed FROM eod_sealed_days
    WHERE NEW.created_at >= window_start AND NEW.created_at < window_end LIMIT 1;
  IF sealed IS NOT NULL THEN
    RAISE EXCEPTION 'ledger_entries: created_at % falls inside sealed business date %; post corrections into the next day as adjustments', NEW.created_at, sealed
      USING ERRCODE = 'RS001';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER ledger_entries_refuse_sealed_day BEFORE INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_entry_in_sealed_day();

-- Down Migration
DROP TRIGGER ledger_entries_refuse_sealed_day ON ledger_entries;
DROP FUNCTION refuse_entry_in_sealed_day();
DROP TABLE eod_sealed_days;
DROP INDEX ledger_entries_created_at;
DROP TRIGGER staking_positions_history ON staking_positions;
DROP FUNCTION record_staking_position();
DROP TABLE staking_position_history;
DROP TABLE custody_poll_readings;
DROP TABLE engine_balance_history;
DROP TABLE proof_of_reserves;
DROP TABLE eod_ledger_balances;
DROP TABLE user_balance_snapshots;
DROP TABLE eod_reports;
DROP TABLE eod_runs;

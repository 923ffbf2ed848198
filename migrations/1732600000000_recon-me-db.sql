-- Up Migration

-- Following the ledger without rescanning it: every row records the id of the
-- transaction that wrote it (whoever the writer is: the column default does it).
-- A row is read once the snapshot horizon (xmin) has passed its transaction, so
-- no row from a slow transaction is ever skipped, as an id watermark would skip it.
ALTER TABLE ledger_entries ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX ledger_entries_tx_id ON ledger_entries (tx_id, id);

-- Wake the follower as soon as a writer commits (one notification per statement).
CREATE FUNCTION notify_ledger_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ledger_entries_inserted', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER ledger_entries_notify AFTER INSERT ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION notify_ledger_entries();

-- One row per reconciler: where each side has been read to, saved with the totals.
CREATE TABLE recon_watermarks (
  boundary     text        PRIMARY KEY,
  left_seq     bigint      NOT NULL DEFAULT 0,
  right_tx     xid8        NOT NULL DEFAULT '0',
  right_id     bigint      NOT NULL DEFAULT 0,
  rows_read    bigint      NOT NULL DEFAULT 0,
  saved_at     timestamptz NOT NULL DEFAULT now()
);

-- The me_db running totals per (user, currency), saved at each checkpoint.
CREATE TABLE recon_me_db_positions (
  user_id        text           NOT NULL,
  currency       text           NOT NULL,
  engine_total   numeric(38,18) NOT NULL DEFAULT 0,
  engine_seq     bigint         NOT NULL DEFAULT 0,
  ledger_total   numeric(38,18) NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, currency)
);

-- Per-currency totals of every ledger account, house accounts included: Σ must be 0.
CREATE TABLE recon_ledger_currency_totals (
  currency text           PRIMARY KEY,
  total    numeric(38,18) NOT NULL DEFAULT 0
);

-- Breaks: one row per fingerprint (boundary, kind, key) while it is not resolved.
CREATE TABLE recon_breaks (
  id              uuid           PRIMARY KEY,
  boundary        text           NOT NULL,
  kind            text           NOT NULL,
  break_key       text           NOT NULL,
  user_id         text           NULL,
  currency        text           NULL,
  left_amount     numeric(38,18) NULL,
  right_amount    numeric(38,18) NULL,
  delta           numeric(38,18) NULL,
  detail          text           NULL,
  status          text           NOT NULL CHECK (status IN ('open', 'acknowledged', 'accepted', 'resolved')),
  first_seen_at   timestamptz    NOT NULL,
  last_seen_at    timestamptz    NOT NULL,
  resolved_at     timestamptz    NULL,
  acknowledged_by text           NULL,
  acknowledged_at timestamptz    NULL,
  accepted_by     text           NULL,
  accepted_reason text           NULL,
  accepted_at     timestamptz    NULL
);
CREATE UNIQUE INDEX recon_breaks_one_live_per_fingerprint ON recon_breaks (boundary, kind, break_key)
  WHERE status IN ('open', 'acknowledged');
CREATE INDEX recon_breaks_boundary_status ON recon_breaks (boundary, status);

-- Operators' actions on breaks (acknowledge, accept): append-only, who and why.
CREATE TABLE recon_break_actions (
  id         bigserial   PRIMARY KEY,
  break_id   uuid        NOT NULL REFERENCES recon_breaks (id),
  action     text        NOT NULL CHECK (action IN ('acknowledge', 'accept')),
  actor_id   text        NOT NULL,
  reason     text        NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER recon_break_actions_no_update_delete
  BEFORE UPDATE OR DELETE ON recon_break_actions
  FOR EACH ROW EXECUTE FUNCTION refuse_audit_mutation();

-- Every comparison round, passing or not, so an auditor can see the checks ran.
CREATE TABLE recon_checks (
  id             bigserial   PRIMARY KEY,
  boundary       text        NOT NULL,
  at             timestamptz NOT NULL DEFAULT now(),
  keys_compared  integer     NOT NULL,
  keys_equal     integer     NOT NULL,
  keys_in_flight integer     NOT NULL,
  breaks_open    integer     NOT NULL,
  left_seq       bigint      NOT NULL,
  right_tx       xid8        NOT NULL,
  right_id       bigint      NOT NULL
);
CREATE INDEX recon_checks_boundary_at ON recon_checks (boundary, at);

-- Seals: a consistent cut per boundary and business date, written once.
CREATE TABLE recon_seals (
  boundary      text        NOT NULL,
  business_date date        NOT NULL,
  cut           jsonb       NOT NULL,
  digest        text        NOT NULL,
  open_breaks   jsonb       NOT NULL,
  sealed_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (boundary, business_date)
);

-- Down Migration
DROP TABLE recon_seals;
DROP TABLE recon_checks;
DROP TABLE recon_break_actions;
DROP TABLE recon_breaks;
DROP TABLE recon_ledger_currency_totals;
DROP TABLE recon_me_db_positions;
DROP TABLE recon_watermarks;
DROP TRIGGER ledger_entries_notify ON ledger_entries;
DROP FUNCTION notify_ledger_entries();
DROP INDEX ledger_entries_tx_id;
ALTER TABLE ledger_entries DROP COLUMN tx_id;

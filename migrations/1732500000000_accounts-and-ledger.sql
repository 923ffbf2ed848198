-- Up Migration

-- The ledger as DESIGN.md §6 fixes it; the ledger service (and this engine,
-- for fees, rewards and adjustments) writes it. A balance is Σ amount.
CREATE TABLE ledger_entries (
  id             bigserial PRIMARY KEY,
  journal_id     text           NOT NULL,
  user_id        text           NOT NULL,
  currency       text           NOT NULL,
  amount         numeric(38,18) NOT NULL,
  reference_type text           NOT NULL,
  reference_id   text           NOT NULL,
  created_at     timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_user_currency ON ledger_entries (user_id, currency);

-- The audit trail: one row per accepted account transition, append-only,
-- hash-chained per account (hash = sha256(prev_hash | canonical fields)).
CREATE TABLE account_state_transitions (
  id            bigserial   PRIMARY KEY,
  transition_id uuid        NOT NULL UNIQUE,
  user_id       text        NOT NULL CHECK (user_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  seq           integer     NOT NULL CHECK (seq >= 1),
  from_state    text        NULL,
  to_state      text        NOT NULL,
  reason_code   text        NOT NULL,
  authority     text        NOT NULL CHECK (authority IN ('self', 'system', 'admin')),
  actor_id      text        NOT NULL,
  command_id    text        NOT NULL UNIQUE,
  kv_revision   bigint      NOT NULL,
  at            timestamptz NOT NULL,
  prev_hash     text        NOT NULL,
  hash          text        NOT NULL,
  UNIQUE (user_id, seq),
  CHECK (to_state IN ('pending_kyc','kyc_rejected','kyc_approved','active','suspended','restricted','closed','banned')),
  CHECK (from_state IS NULL OR from_state IN ('pending_kyc','kyc_rejected','kyc_approved','active','suspended','restricted','closed','banned')),
  CHECK ((seq = 1) = (from_state IS NULL))
);

CREATE FUNCTION refuse_audit_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'account_state_transitions is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER account_state_transitions_no_update_delete
  BEFORE UPDATE OR DELETE ON account_state_transitions
  FOR EACH ROW EXECUTE FUNCTION refuse_audit_mutation();
CREATE TRIGGER account_state_transitions_no_truncate
  BEFORE TRUNCATE ON account_state_transitions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_mutation();

-- Rejected commands: not audit rows (nothing changed), but kept so that a
-- repeated command id gets the same answer and operators can see attempts.
CREATE TABLE account_command_rejections (
  command_id  text        PRIMARY KEY,
  user_id     text        NOT NULL,
  kind        text        NOT NULL,
  target      text        NOT NULL,
  authority   text        NOT NULL,
  reason_code text        NOT NULL,
  actor_id    text        NOT NULL,
  error_code  text        NOT NULL,
  error_reason text       NULL,
  message     text        NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_command_rejections_user ON account_command_rejections (user_id, at);

-- Commands the engine could not handle after its retries, or could not parse:
-- kept with their error for operators, never dropped.
CREATE TABLE parked_commands (
  id          bigserial   PRIMARY KEY,
  stream      text        NOT NULL,
  stream_seq  bigint      NOT NULL,
  subject     text        NOT NULL,
  payload     text        NOT NULL,
  error       text        NOT NULL,
  attempts    integer     NOT NULL,
  parked_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream, stream_seq)
);

-- Down Migration
DROP TABLE parked_commands;
DROP TABLE account_command_rejections;
DROP TRIGGER account_state_transitions_no_truncate ON account_state_transitions;
DROP TRIGGER account_state_transitions_no_update_delete ON account_state_transitions;
DROP TABLE account_state_transitions;
DROP FUNCTION refuse_audit_mutation();
DROP TABLE ledger_entries;

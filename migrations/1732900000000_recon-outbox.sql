-- Up Migration

-- A break's effects (its alert, its resolution, a freeze, a withdrawal pause or resume) are
-- rows recorded in the same transaction as the break row's change, then carried out and
-- marked done by a drainer that runs at start-up and on every round until they are
-- (ADR 0020). Each row is idempotent where it lands: `msg_id` is the Nats-Msg-Id of a
-- publication or the command id of an account command.
CREATE TABLE recon_outbox (
  id          bigserial   PRIMARY KEY,
  boundary    text        NOT NULL,
  break_id    uuid        NULL REFERENCES recon_breaks (id),
  effect      text        NOT NULL CHECK (effect IN ('publish', 'command')),
  subject     text        NOT NULL,
  payload     jsonb       NOT NULL,
  msg_id      text        NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  attempts    integer     NOT NULL DEFAULT 0,
  last_error  text        NULL,
  done_at     timestamptz NULL
);
CREATE INDEX recon_outbox_pending ON recon_outbox (boundary, id) WHERE done_at IS NULL;

-- Every lifecycle change of a break, append-only (as recon_break_actions): what changed,
-- the amounts at that moment, who did it (system or an operator) and the fence it ran under.
CREATE TABLE recon_break_events (
  id          bigserial      PRIMARY KEY,
  break_id    uuid           NOT NULL REFERENCES recon_breaks (id),
  event       text           NOT NULL CHECK (event IN ('raised', 'acknowledged', 'accepted', 'resolved', 'reopened')),
  left_amount numeric(38,18) NULL,
  right_amount numeric(38,18) NULL,
  delta       numeric(38,18) NULL,
  detail      text           NULL,
  actor_id    text           NOT NULL,
  reason      text           NULL,
  fence_token bigint         NULL,
  at          timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX recon_break_events_break ON recon_break_events (break_id, id);
CREATE TRIGGER recon_break_events_no_update_delete
  BEFORE UPDATE OR DELETE ON recon_break_events
  FOR EACH ROW EXECUTE FUNCTION refuse_audit_mutation();
CREATE TRIGGER recon_break_events_no_truncate
  BEFORE TRUNCATE ON recon_break_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_mutation();

-- A resolved break carries the values both sides agree on (left, right, delta); the last
-- difference seen while it was live is kept beside them.
ALTER TABLE recon_breaks ADD COLUMN last_left numeric(38,18) NULL;
ALTER TABLE recon_breaks ADD COLUMN last_right numeric(38,18) NULL;
ALTER TABLE recon_breaks ADD COLUMN last_delta numeric(38,18) NULL;

-- Which leader term wrote a comparison round: shows a fenced-out leader wrote none.
ALTER TABLE recon_checks ADD COLUMN fence_token bigint NULL;

-- The stream sequence of the last engine event a me_db checkpoint covers: an event at or
-- below the saved engine seq is a redelivery only when it sits at or below this in the stream;
-- past it, it is the engine's sequence going backwards (a meta-break, never skipped silently).
ALTER TABLE recon_watermarks ADD COLUMN left_stream_seq bigint NULL;

-- Parked messages keep their exact bytes whatever they contain (a NUL byte cannot be text);
-- `payload` keeps a readable copy with NULs escaped.
ALTER TABLE parked_commands ADD COLUMN payload_bytes bytea NULL;

-- Down Migration
ALTER TABLE recon_watermarks DROP COLUMN left_stream_seq;
ALTER TABLE parked_commands DROP COLUMN payload_bytes;
ALTER TABLE recon_checks DROP COLUMN fence_token;
ALTER TABLE recon_breaks DROP COLUMN last_delta;
ALTER TABLE recon_breaks DROP COLUMN last_right;
ALTER TABLE recon_breaks DROP COLUMN last_left;
DROP TRIGGER recon_break_events_no_truncate ON recon_break_events;
DROP TRIGGER recon_break_events_no_update_delete ON recon_break_events;
DROP TABLE recon_break_events;
DROP TABLE recon_outbox;

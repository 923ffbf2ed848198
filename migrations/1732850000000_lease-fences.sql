-- Up Migration

-- Fencing tokens for the leases held in NATS KV (DESIGN §2, §5). A lease's token is the KV
-- revision at which its holder acquired it; revisions only grow, so a newer holder always
-- has a larger token. A holder claims its token once when elected (this waits for the old
-- holder's in-flight transactions, which hold the row FOR SHARE); every write afterwards
-- checks, in its own transaction, that the row still carries its token. A paused holder that
-- wakes after losing the lease therefore writes nothing (ADR 0012).
CREATE TABLE lease_fences (
  lease      text        PRIMARY KEY,
  token      bigint      NOT NULL,
  holder     text        NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);

-- Raises SQLSTATE RF001 unless `p_token` is the current token of `p_lease`.
CREATE FUNCTION assert_lease_fence(p_lease text, p_token bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  current_token bigint;
BEGIN
  SELECT token INTO current_token FROM lease_fences WHERE lease = p_lease FOR SHARE;
  IF current_token IS DISTINCT FROM p_token THEN
    RAISE EXCEPTION 'fenced: lease % token % is not the current token %', p_lease, p_token, coalesce(current_token::text, '(none)')
      USING ERRCODE = 'RF001';
  END IF;
END;
$$;

-- Down Migration
DROP FUNCTION assert_lease_fence(text, bigint);
DROP TABLE lease_fences;

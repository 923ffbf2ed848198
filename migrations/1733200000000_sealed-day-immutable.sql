-- Up Migration

-- A sealed business date's ledger rows are final (DESIGN §5: "once D is sealed, the ledger
-- refuses a row with created_at inside D"; corrections go into the next day). The trigger of
-- 1733000000000_eod guarded INSERT only: an UPDATE or DELETE of a row inside a sealed day, an
-- UPDATE moving a row into one, or a TRUNCATE once any day is sealed changed a sealed day's
-- figures just the same. Now all are refused, with the same SQLSTATE.

CREATE OR REPLACE FUNCTION refuse_entry_in_sealed_day() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sealed date;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT business_date INTO sealed FROM eod_sealed_days
      WHERE OLD.created_at >= window_start AND OLD.created_at < window_end LIMIT 1;
    IF sealed IS NOT NULL THEN
      RAISE EXCEPTION 'ledger_entries: row % (created_at %) is inside sealed business date %: % refused; post corrections into the next day as adjustments', OLD.id, OLD.created_at, sealed, TG_OP
        USING ERRCODE = 'RS001';
    END IF;
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    END IF;
  END IF;
  SELECT business_date INTO sealed FROM eod_sealed_days
    WHERE NEW.created_at >= window_start AND NEW.created_at < window_end LIMIT 1;
  IF sealed IS NOT NULL THEN
    RAISE EXCEPTION 'ledger_entries: created_at % falls inside sealed business date %; post corrections into the next day as adjustments', NEW.created_at, sealed
      USING ERRCODE = 'RS001';
  END IF;
  RETURN NEW;
END;
$$;

DROP TRIGGER ledger_entries_refuse_sealed_day ON ledger_entries;
CREATE TRIGGER ledger_entries_refuse_sealed_day BEFORE INSERT OR UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_entry_in_sealed_day();

CREATE FUNCTION refuse_truncate_after_seal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM eod_sealed_days) THEN
    RAISE EXCEPTION 'ledger_entries: TRUNCATE refused: business dates are sealed' USING ERRCODE = 'RS001';
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER ledger_entries_refuse_truncate_after_seal BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate_after_seal();

-- Down Migration
DROP TRIGGER ledger_entries_refuse_truncate_after_seal ON ledger_entries;
DROP FUNCTION refuse_truncate_after_seal();
DROP TRIGGER ledger_entries_refuse_sealed_day ON ledger_entries;
CREATE TRIGGER ledger_entries_refuse_sealed_day BEFORE INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_entry_in_sealed_day();

-- A tamper-evident history: each event stores a SHA-256 hash of itself
-- chained to the hash of its case's previous event. An event changed by hand
-- no longer matches its hash; one whose hash was made to match breaks the
-- next event's; a removed event leaves a gap in its case's versions (or its
-- case's projection ahead of its last event); reordered events hash
-- differently, since the hash covers the version. `duban audit verify`
-- recomputes every chain with duban_event_hash, the function the trigger
-- below uses: the rule is written once, here.
ALTER TABLE events ADD COLUMN hash bytea;

-- duban_event_hash is the hash of event e given prev, the hash of its case's
-- previous event (NULL for the first). jsonb's text is canonical (keys
-- sorted, whitespace fixed), so the same event always hashes the same.
CREATE FUNCTION duban_event_hash(prev bytea, e events) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(coalesce(prev, '\x'::bytea) || convert_to(concat_ws(E'\x1f',
        e.id::text, e.case_id::text, e.version::text, e.type,
        (extract(epoch FROM e.occurred_at) * 1000000)::bigint::text,
        e.actor::text, e.data::text, e.command_id), 'UTF8'))
$$;

-- Events written before this migration are chained now, a version at a time.
ALTER TABLE events DISABLE TRIGGER events_append_only;
DO $$
DECLARE
    v integer := 1;
BEGIN
    LOOP
        UPDATE events AS e SET hash = duban_event_hash(
            (SELECT p.hash FROM events AS p WHERE p.case_id = e.case_id AND p.version = e.version - 1), e)
        WHERE e.version = v;
        EXIT WHEN NOT FOUND;
        v := v + 1;
    END LOOP;
END
$$;
ALTER TABLE events ENABLE TRIGGER events_append_only;
ALTER TABLE events ALTER COLUMN hash SET NOT NULL;

-- Every event is chained as it is inserted, by appends and bulk loads alike.
-- An event whose predecessor is missing is refused.
CREATE FUNCTION events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev bytea;
BEGIN
    IF NEW.version > 1 THEN
        SELECT hash INTO prev FROM events WHERE case_id = NEW.case_id AND version = NEW.version - 1;
        IF prev IS NULL THEN
            RAISE EXCEPTION 'case % has no event %, so event % cannot follow it', NEW.case_id, NEW.version - 1, NEW.version;
        END IF;
    END IF;
    NEW.hash := duban_event_hash(prev, NEW);
    RETURN NEW;
END
$$;

CREATE TRIGGER events_chain BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_chain();

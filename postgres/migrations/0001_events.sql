-- The event store: every change to every case, in order, never updated or
-- deleted. position is the global order; version the order within a case.
CREATE TABLE events (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid        NOT NULL UNIQUE,
    case_id     uuid        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor       jsonb       NOT NULL,
    data        jsonb       NOT NULL,
    -- command_id names the command (workflow update) that caused the event,
    -- so a retried command can recognise its own events.
    command_id  text        NOT NULL,
    -- The writing transaction: readers of the global log read only below the
    -- oldest transaction still running, so they never skip a late commit.
    tx          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (case_id, version)
);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is refused', TG_OP;
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- The cases projection: each case as the fold of its events, written in the
-- same transaction as them. doc is the whole case; the columns are what
-- lists filter and sort on.
CREATE TABLE cases (
    id             uuid        PRIMARY KEY,
    version        integer     NOT NULL,
    status         text        NOT NULL,
    category       text        NOT NULL,
    severity       text        NOT NULL,
    unit           text,
    area           text,
    reporter       text        NOT NULL,
    opened_at      timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- The running stage, its deadline and the due times of its escalation
    -- levels 1, 2, ...: overdue and escalation_level are read off the clock.
    stage          text,
    stage_deadline timestamptz,
    warn_at        timestamptz,
    escalate_at    timestamptz[] NOT NULL DEFAULT '{}',
    doc            jsonb       NOT NULL
);

CREATE INDEX cases_opened ON cases (opened_at DESC, id DESC);
CREATE INDEX cases_status_opened ON cases (status, opened_at DESC, id DESC);
CREATE INDEX cases_unit_opened ON cases (unit, opened_at DESC, id DESC);
CREATE INDEX cases_stage_deadline ON cases (stage_deadline) WHERE stage_deadline IS NOT NULL;

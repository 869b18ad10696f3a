-- Outcomes, and the scorecards' read model (综合评价).

-- A finished case says how it ended, and a case when its unit's latest
-- resolve obligation began. Rows written before gain both, as a fold of
-- their events writes them (an old cancellation naming duplicate_of was a
-- duplicate, any other invalid; times as Go writes them), so that every
-- row stays the fold of its events.
CREATE FUNCTION duban_go_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || rtrim(rtrim(to_char(t AT TIME ZONE 'UTC', '.US'), '0'), '.') || 'Z'
$$;

UPDATE cases SET
    doc = doc || jsonb_build_object('outcome', o.outcome),
    view = CASE WHEN view IS NULL THEN NULL ELSE left(view, -1) || ',"outcome":"' || o.outcome || '"}' END
FROM (SELECT id, CASE WHEN status = 'closed' THEN 'fixed'
                       ELSE coalesce((SELECT data ->> 'outcome' FROM events AS e WHERE e.case_id = c.id AND e.type = 'CaseCancelled'),
                                     CASE WHEN doc ? 'duplicate_of' THEN 'duplicate' ELSE 'invalid' END) END AS outcome
      FROM cases AS c WHERE status IN ('closed', 'cancelled') AND NOT doc ? 'outcome') AS o
WHERE cases.id = o.id;

UPDATE cases SET doc = doc || jsonb_build_object('obligation_since', duban_go_time(s.at))
FROM (SELECT DISTINCT ON (case_id) case_id, occurred_at AS at FROM events
      WHERE type IN ('CaseDispatched', 'VerificationFailed') ORDER BY case_id, version DESC) AS s
WHERE cases.id = s.case_id AND NOT doc ? 'obligation_since';

DROP FUNCTION duban_go_time(timestamptz);

-- What the events say of units and inspectors, one row a countable thing
-- (duban.Fact), written in the same transaction as the events: a period's
-- scorecard aggregates the facts in its time span.
CREATE TABLE facts (
    case_id  uuid             NOT NULL,
    version  integer          NOT NULL, -- the event that made it
    kind     text             NOT NULL,
    at       timestamptz      NOT NULL,
    unit     text,
    actor    text,
    category text             NOT NULL,
    area     text,
    level    smallint         NOT NULL DEFAULT 0,
    late     boolean          NOT NULL DEFAULT false,
    failed   boolean          NOT NULL DEFAULT false,
    minutes  double precision,
    PRIMARY KEY (case_id, version, kind)
);
CREATE INDEX facts_at ON facts (at) INCLUDE (kind, unit, actor, level, late, failed, minutes);

-- The units' resolve obligations, a row a stretch in which one stood
-- unchanged (duban.Stretch): which were running, and overdue, at a period's
-- end is read from the stretches that hold that instant.
CREATE TABLE stretches (
    case_id   uuid        NOT NULL,
    version   integer     NOT NULL, -- the event it began with
    since     timestamptz NOT NULL,
    until     timestamptz,          -- null while it lasts
    unit      text        NOT NULL,
    category  text        NOT NULL,
    area      text,
    deadline  timestamptz NOT NULL,
    suspended boolean     NOT NULL,
    PRIMARY KEY (case_id, version)
);
CREATE INDEX stretches_until ON stretches ((coalesce(until, 'infinity'))) INCLUDE (since, unit, deadline, suspended);

-- Period bulletins (通报): a period's ranked rows as they stood at its end,
-- published once, never changed.
CREATE TABLE bulletins (
    period       text        PRIMARY KEY,
    period_from  timestamptz NOT NULL,
    period_to    timestamptz NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    rows         jsonb       NOT NULL
);
CREATE FUNCTION bulletins_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a published bulletin does not change: % is refused', TG_OP;
END
$$;
CREATE TRIGGER bulletins_immutable BEFORE UPDATE OR DELETE ON bulletins
    FOR EACH ROW EXECUTE FUNCTION bulletins_are_immutable();

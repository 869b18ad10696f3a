-- Rounds (巡查/测评轮次) and site inspections. A round is written once,
-- when it is planned, with the sites drawn and who inspects each; an
-- inspection once per site and round, with the cases its failures opened.
-- Neither changes afterwards: what a round has left is read from its
-- inspections.
CREATE TABLE rounds (
    id         text        PRIMARY KEY,
    planned_at timestamptz NOT NULL,
    due_by     timestamptz NOT NULL,
    doc        jsonb       NOT NULL
);
CREATE INDEX rounds_by_time ON rounds (planned_at DESC, id DESC);

CREATE TABLE round_sites (
    round     text NOT NULL REFERENCES rounds,
    site      text NOT NULL,
    inspector text NOT NULL,
    PRIMARY KEY (round, site)
);
CREATE INDEX round_sites_by_inspector ON round_sites (inspector, round);

-- The steps of a round's ladder taken while sites were left: each once.
CREATE TABLE round_steps (
    round       text        NOT NULL REFERENCES rounds,
    level       integer     NOT NULL CHECK (level >= 0),
    due_at      timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    doc         jsonb       NOT NULL,
    PRIMARY KEY (round, level)
);

CREATE TABLE inspections (
    round       text        NOT NULL,
    site        text        NOT NULL,
    type        text        NOT NULL,
    unit        text,
    area        text,
    inspector   text        NOT NULL,
    at          timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    score       integer     NOT NULL CHECK (score BETWEEN 0 AND 100),
    passed      boolean     NOT NULL,
    failed      text[]      NOT NULL, -- the items failed, for the site report
    doc         jsonb       NOT NULL,
    PRIMARY KEY (round, site),
    FOREIGN KEY (round, site) REFERENCES round_sites
);
CREATE INDEX inspections_by_time ON inspections (at);
CREATE INDEX inspections_by_site ON inspections (site, at DESC);

CREATE TRIGGER rounds_append_only BEFORE UPDATE OR DELETE ON rounds
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER round_sites_append_only BEFORE UPDATE OR DELETE ON round_sites
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER round_steps_append_only BEFORE UPDATE OR DELETE ON round_steps
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER inspections_append_only BEFORE UPDATE OR DELETE ON inspections
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

-- Where an inspection found a case, and its plate (挂牌督办): the last
-- case for an item at a site is what a repeat failure counts on from.
ALTER TABLE cases ADD COLUMN site text, ADD COLUMN item text, ADD COLUMN listed boolean NOT NULL DEFAULT false;
CREATE INDEX cases_by_finding ON cases (site, item, opened_at DESC) WHERE site IS NOT NULL;
-- A view says whether its case is listed: false for every case before.
-- Written where the view's JSON has it, before a finished case's outcome.
UPDATE cases SET view = regexp_replace(view, '(,"outcome":"[a-z_]+")?}$', ',"listed":false\1}')
    WHERE view IS NOT NULL AND view NOT LIKE '%"listed":%';

-- Sites (点位): the places the inspection team sweeps. Their changes are
-- events, appended, never changed, numbered per site from 1; the sites
-- table is their projection, written in the same transaction.
CREATE TABLE site_events (
    position    bigserial   PRIMARY KEY,
    site_id     text        NOT NULL,
    version     integer     NOT NULL CHECK (version >= 1),
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor       jsonb       NOT NULL,
    data        jsonb       NOT NULL,
    UNIQUE (site_id, version)
);

CREATE TRIGGER site_events_append_only BEFORE UPDATE OR DELETE ON site_events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER site_events_no_truncate BEFORE TRUNCATE ON site_events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

CREATE TABLE sites (
    id         text        PRIMARY KEY,
    version    integer     NOT NULL,
    type       text        NOT NULL,
    area       text,
    unit       text,
    active     boolean     NOT NULL,
    updated_at timestamptz NOT NULL,
    doc        jsonb       NOT NULL
);
CREATE INDEX sites_by_type ON sites (type, id);
CREATE INDEX sites_by_unit ON sites (unit, id);

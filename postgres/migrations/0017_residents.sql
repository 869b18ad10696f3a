-- Residents' reports (随手拍, Open311). A follow link is kept as its
-- token's SHA-256; a reporter recognised by a phone as the phone's SHA-256
-- and its masked form (138****8000), never the number; the points ledger
-- is append-only: earned by confirmed reports (written with the event that
-- earned them), spent by redemptions the office records.
CREATE TABLE follow_links (
    token_sha256 bytea       PRIMARY KEY,
    case_id      uuid        NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX follow_links_by_case ON follow_links (case_id);

CREATE TABLE reporters (
    id           text        PRIMARY KEY,
    phone_sha256 bytea       NOT NULL UNIQUE,
    masked       text        NOT NULL,
    first_seen   timestamptz NOT NULL
);

CREATE TABLE reporter_points (
    id       bigserial   PRIMARY KEY,
    reporter text        NOT NULL,
    at       timestamptz NOT NULL,
    points   integer     NOT NULL CHECK (points <> 0),
    case_id  uuid        UNIQUE, -- the report that earned them; null for a redemption
    by_actor text,               -- who recorded a redemption
    note     text        NOT NULL DEFAULT ''
);
CREATE INDEX reporter_points_by_reporter ON reporter_points (reporter, at);
CREATE INDEX reporter_points_earned ON reporter_points (at) WHERE points > 0;

CREATE TRIGGER follow_links_append_only BEFORE UPDATE OR DELETE ON follow_links
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER reporter_points_append_only BEFORE UPDATE OR DELETE ON reporter_points
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

-- The office web.
--
-- Streams read the whole event log in the order of the writing transaction,
-- then position, below the oldest transaction still running (app.LogCursor):
-- this index serves that order.
CREATE INDEX events_log ON events (tx, position);

-- Sessions of people signed in to the office pages. The browser holds the
-- session's id; only its SHA-256 is kept here.
CREATE TABLE sessions (
    id_sha256    bytea       PRIMARY KEY,
    principal_id text        NOT NULL,
    csrf         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

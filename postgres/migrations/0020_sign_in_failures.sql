-- Wrong passwords, counted where every API process sees them: per user and
-- address, and per address. A count whose last failure is an hour old
-- starts again; rows a day old are forgotten.
CREATE TABLE sign_in_failures (
    key     text        PRIMARY KEY,
    n       integer     NOT NULL,
    last_at timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_last ON sign_in_failures (last_at);

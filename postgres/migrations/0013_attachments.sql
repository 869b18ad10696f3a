-- Attachments: photos and documents stored as blobs (package blobs), by the
-- SHA-256 of their bytes. A row is written only once the file is stored,
-- and a command may refer to an attachment only once its row exists: no
-- event refers to a blob that is not whole.
CREATE TABLE attachments (
    id           text        PRIMARY KEY CHECK (id ~ '^sha256:[0-9a-f]{64}$'),
    content_type text        NOT NULL,
    size         bigint      NOT NULL,
    width        integer,
    height       integer,
    taken_at     timestamptz,
    lat          double precision,
    lon          double precision,
    name         text        NOT NULL DEFAULT '',
    uploaded_by  text        NOT NULL,
    uploaded_at  timestamptz NOT NULL,
    -- Whether its thumbnail and its copy without metadata are made (after
    -- the upload's answer, or when first asked for), and which there are
    -- (thumbnail, until then: whether its type gets one).
    derived      boolean     NOT NULL DEFAULT false,
    thumbnail    boolean     NOT NULL DEFAULT false,
    stripped     boolean     NOT NULL DEFAULT false
);

-- Which cases refer to an attachment (who may see it): the events whose
-- evidence names it. Only the events that carry evidence are indexed (a
-- GIN index keeps an entry even for a row whose key is null).
CREATE INDEX events_evidence ON events USING gin ((data -> 'evidence') jsonb_path_ops) WHERE data ? 'evidence';

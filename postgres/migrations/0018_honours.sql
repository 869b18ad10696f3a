-- Reward and penalty (红黑榜, 奖惩): a bulletin's red and black lists are
-- published with its rows, never changed (the bulletins' trigger refuses
-- it). Bulletins published before carry empty lists.
ALTER TABLE bulletins
    ADD COLUMN red_list   jsonb NOT NULL DEFAULT '{"units": [], "sites": []}',
    ADD COLUMN black_list jsonb NOT NULL DEFAULT '{"units": [], "sites": []}';

-- The sanctions a bulletin's black list brought: their events, appended in
-- the bulletin's own transaction (SanctionImposed) and when the office
-- records a follow-up (SanctionDone), never changed; the sanctions table
-- is their projection, written in the same transaction. The outbox offers
-- the events to the subscriptions beside the cases': read as the cases'
-- log is, by (tx, position) below the oldest transaction still running.
CREATE TABLE sanction_events (
    position    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          uuid        NOT NULL UNIQUE,
    sanction_id text        NOT NULL,
    version     integer     NOT NULL CHECK (version >= 1),
    type        text        NOT NULL,
    unit        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor       jsonb       NOT NULL,
    data        jsonb       NOT NULL,
    tx          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (sanction_id, version)
);
CREATE INDEX sanction_events_log ON sanction_events (tx, position);
CREATE TRIGGER sanction_events_append_only BEFORE UPDATE OR DELETE ON sanction_events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER sanction_events_no_truncate BEFORE TRUNCATE ON sanction_events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

CREATE TABLE sanctions (
    id        text        PRIMARY KEY,
    period    text        NOT NULL REFERENCES bulletins (period),
    period_to timestamptz NOT NULL,
    unit      text        NOT NULL,
    status    text        NOT NULL CHECK (status IN ('open', 'done')),
    version   integer     NOT NULL,
    doc       jsonb       NOT NULL
);
CREATE INDEX sanctions_by_period ON sanctions (period_to DESC, id);
CREATE INDEX sanctions_by_unit ON sanctions (unit, period_to DESC, id);
CREATE INDEX sanctions_open ON sanctions (period_to DESC, id) WHERE status = 'open';

-- Each subscription's place in the sanctions' log: a subscription that
-- exists now has seen none of it (there is none yet).
ALTER TABLE outbox_cursors
    ADD COLUMN sanction_tx       xid8   NOT NULL DEFAULT '0',
    ADD COLUMN sanction_position bigint NOT NULL DEFAULT 0;

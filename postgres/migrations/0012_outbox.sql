-- The outbox: what each subscription of the policy is offered, driven by
-- the event log (never by a second write beside an append that could
-- disagree with it).
--
-- A subscription's cursor is its place in the log, in the order the
-- streams read it (app.LogCursor): transaction, then position.
CREATE TABLE outbox_cursors (
    subscription text   PRIMARY KEY,
    tx           xid8   NOT NULL,
    position     bigint NOT NULL
);

-- One delivery per subscription and event: pending until the receiver
-- takes it, failed when every retry is spent (kept for replay). seq is the
-- log's order; a case's deliveries go one at a time, in it. A delivery
-- being sent is leased: its next_at is pushed past the attempt's end, so
-- that a sender that dies mid-attempt leaves it to be sent again.
CREATE TABLE deliveries (
    seq          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription text        NOT NULL,
    event_id     uuid        NOT NULL,
    case_id      uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     integer     NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL,
    last_error   text,
    delivered_at timestamptz,
    UNIQUE (subscription, event_id)
);
CREATE INDEX deliveries_due ON deliveries (subscription, next_at) WHERE status = 'pending';
CREATE INDEX deliveries_case ON deliveries (subscription, case_id, seq) WHERE status = 'pending';
CREATE INDEX deliveries_failed ON deliveries (subscription, seq) WHERE status = 'failed';

-- A subscription whose receiver answered 410 Gone is offered nothing more
-- until a replay.
CREATE TABLE subscriptions_disabled (
    subscription text        PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    reason       text        NOT NULL
);

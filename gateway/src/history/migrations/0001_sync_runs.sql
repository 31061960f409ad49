-- The runs each workspace keeps on the server, and the counter that orders
-- their changes. The same SQL on SQLite and PostgreSQL.

-- One row per workspace: the last sequence number given to a change. An
-- upload locks this row first, so writers to one workspace take turns.
CREATE TABLE sync_counter (
    workspace TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

-- The current state of each run id: its JSON, or when it was deleted (a
-- tombstone, kept for good), and the sequence number of its latest change.
CREATE TABLE sync_runs (
    workspace TEXT NOT NULL,
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    run TEXT,
    deleted_at TEXT,
    PRIMARY KEY (workspace, id),
    CHECK ((run IS NULL) <> (deleted_at IS NULL))
);

-- The changes feed: a workspace's rows in commit order.
CREATE UNIQUE INDEX sync_runs_changes ON sync_runs (workspace, seq);

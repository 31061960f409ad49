-- Experiments run on the gateway (issue #26): the experiment as it was
-- posted, and one row per cell of its plan, claimed by the gateways' workers
-- with a lease. The same SQL on SQLite and PostgreSQL. Amounts of money are
-- whole nanodollars; instants are milliseconds since 1970 (the gateways'
-- clocks).

CREATE TABLE server_experiments (
    -- The gateway's id for this posting (`sx_…`).
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    -- The experiment's own id, which its runs carry in metadata.experiment.
    experiment_id TEXT NOT NULL,
    -- The experiment's definition, as JSON: every gateway plans it again
    -- from this (a plan is the same wherever it is made).
    definition TEXT NOT NULL,
    -- running, finished, cancelled, or budget (stopped by its budget).
    state TEXT NOT NULL,
    cells BIGINT NOT NULL,
    -- The limit, when there is one, and what was spent (every answer paid
    -- for, a cell sent twice included). What the cells in flight reserved is
    -- the sum of their reservations, below: never a second copy to drift.
    budget_nanos BIGINT,
    spent_nanos BIGINT NOT NULL,
    -- Cells sent again after their lease expired (possibly paid twice).
    resent BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT
);

CREATE INDEX server_experiments_running ON server_experiments (state, created_at);

CREATE TABLE server_experiment_cells (
    experiment TEXT NOT NULL,
    -- The cell's place in the plan, from 0.
    cell BIGINT NOT NULL,
    -- The cell's key, as its run's metadata.experiment names it.
    input_row BIGINT NOT NULL,
    model TEXT NOT NULL,
    repetition BIGINT NOT NULL,
    -- queued, leased, done, failed or cancelled.
    state TEXT NOT NULL,
    -- Which gateway holds it (or answered it), and until when.
    owner TEXT,
    lease_expires BIGINT,
    -- How often it was claimed.
    attempts BIGINT NOT NULL,
    -- The plan's estimate, reserved against the budget while leased.
    estimate_nanos BIGINT NOT NULL,
    reserved_nanos BIGINT NOT NULL,
    cost_nanos BIGINT,
    run_id TEXT,
    PRIMARY KEY (experiment, cell)
);

-- The claim: an experiment's next cells in a state.
CREATE INDEX server_experiment_cells_claim ON server_experiment_cells (experiment, state, cell);
-- A worker's leases, renewed together.
CREATE INDEX server_experiment_cells_owner ON server_experiment_cells (owner, state);
-- Leases that expired, looked for by every gateway at each look.
CREATE INDEX server_experiment_cells_leases ON server_experiment_cells (state, lease_expires);

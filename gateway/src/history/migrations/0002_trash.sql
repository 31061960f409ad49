-- A trash instead of deletion for good (issue #25). A run stays in
-- `sync_runs` with the marks that say whether it is in the trash: when it was
-- last put there and last restored from it (both kept, each only ever moved
-- later, so copies merge the same way in any order: in the trash while
-- `trashed_at` is the later), and who put it there. Emptying the trash, or
-- its expiry, turns the row into a tombstone (`deleted_at`), as before.
ALTER TABLE sync_runs ADD COLUMN trashed_at TEXT;
ALTER TABLE sync_runs ADD COLUMN restored_at TEXT;
ALTER TABLE sync_runs ADD COLUMN trashed_by TEXT;

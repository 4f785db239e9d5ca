-- Workers register here and beat every few seconds: a command that waits for its jobs lets a live
-- worker do them instead of starting a second one that would compete for the same quota.
CREATE TABLE workers (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,            -- serve | work | command
    pid        INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL
);
CREATE INDEX jobs_locked_by ON jobs(locked_by) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs(finished_at);
-- The claim walks one target's queued jobs in lane order, oldest first, and stops at the first it may run.
CREATE INDEX jobs_queue ON jobs(state, target, lane DESC, run_at, id);
-- Per-link serialisation looks for a running job of the same link.
CREATE INDEX jobs_link ON jobs(group_id, target, state);

-- One row per scheduled job and London day: the process that inserts it runs that day's job, so the
-- nightly job runs once a day however many `serve` processes there are and however often they restart.
CREATE TABLE schedule_claims (
    kind       TEXT NOT NULL,            -- nightly
    day        TEXT NOT NULL,            -- YYYY-MM-DD, Europe/London
    claimed_at INTEGER NOT NULL,
    claimed_by TEXT NOT NULL,
    PRIMARY KEY (kind, day)
);

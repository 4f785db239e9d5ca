-- class-sync store, SQLite dialect. Times are Unix milliseconds; dates are ISO strings.

CREATE TABLE schools (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    admins     TEXT NOT NULL,            -- JSON array of lower-case emails
    updated_at INTEGER NOT NULL
);

CREATE TABLE groups (
    id            TEXT PRIMARY KEY,
    school_id     TEXT NOT NULL REFERENCES schools(id),
    academic_year TEXT NOT NULL,
    name          TEXT NOT NULL,
    year_group    INTEGER,
    subject       TEXT,
    targets       TEXT NOT NULL,         -- JSON array
    teachers      TEXT NOT NULL,         -- JSON array, MIS order (the first is the preferred owner)
    learners      TEXT NOT NULL,         -- JSON array
    withdrawn     INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX groups_school ON groups(school_id);
CREATE INDEX groups_year ON groups(academic_year);

CREATE TABLE links (
    group_id         TEXT NOT NULL REFERENCES groups(id),
    target           TEXT NOT NULL,
    state            TEXT NOT NULL,      -- pending | active | archived | restored | failed
    remote_id        TEXT,
    mis_linked       INTEGER NOT NULL DEFAULT 1,
    managed          TEXT NOT NULL DEFAULT '{"teachers":[],"learners":[]}', -- members class-sync put there
    missing_accounts TEXT NOT NULL DEFAULT '[]',
    last_sync        INTEGER,
    last_error       TEXT,
    held_changes     INTEGER NOT NULL DEFAULT 0, -- MIS changes recorded after the cutoff, never applied
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (group_id, target)
);
CREATE INDEX links_state ON links(state);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,          -- reconcile | archive | restore
    group_id     TEXT NOT NULL,
    target       TEXT NOT NULL,
    lane         INTEGER NOT NULL,       -- higher runs first
    state        TEXT NOT NULL,          -- queued | running | done | failed
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    lease_until  INTEGER,
    locked_by    TEXT,
    last_error   TEXT,
    requested_by TEXT,
    dedup_key    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
-- One live job per link and kind: pressing Restore twice makes one job.
CREATE UNIQUE INDEX jobs_live ON jobs(dedup_key) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_claim ON jobs(state, lane, run_at);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,              -- restore | sync | archive | nightly | import
    group_id TEXT,
    target   TEXT,
    outcome  TEXT NOT NULL,              -- granted | refused | conflict | not_found | done
    detail   TEXT NOT NULL
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,           -- nightly
    today       TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    summary     TEXT NOT NULL DEFAULT '',
    ok          INTEGER
);

-- class-sync store, PostgreSQL dialect: the schema of migrations/sqlite (0001-0005) in one step.
-- Times are Unix milliseconds (BIGINT); dates are ISO strings; lists and rosters are JSON text,
-- written and read whole by class-sync (never queried inside), as in SQLite. Ids, targets, kinds and
-- states sort bytewise (COLLATE "C"), as SQLite sorts them, whatever the database's locale.

CREATE TABLE schools (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    admins     TEXT NOT NULL,            -- JSON array of lower-case emails
    updated_at BIGINT NOT NULL
);

CREATE TABLE groups (
    id            TEXT COLLATE "C" PRIMARY KEY,
    school_id     TEXT COLLATE "C" NOT NULL REFERENCES schools(id),
    academic_year TEXT NOT NULL,
    name          TEXT NOT NULL,
    year_group    BIGINT,
    subject       TEXT,
    targets       TEXT NOT NULL,         -- JSON array
    teachers      TEXT NOT NULL,         -- JSON array, MIS order (the first is the preferred owner)
    learners      TEXT NOT NULL,         -- JSON array
    withdrawn     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX groups_school ON groups(school_id);
CREATE INDEX groups_year ON groups(academic_year);

CREATE TABLE links (
    group_id         TEXT COLLATE "C" NOT NULL REFERENCES groups(id),
    target           TEXT COLLATE "C" NOT NULL,
    state            TEXT NOT NULL,      -- pending | active | archived | restored | failed
    remote_id        TEXT,
    mis_linked       BOOLEAN NOT NULL DEFAULT TRUE,
    managed          TEXT NOT NULL DEFAULT '{"teachers":[],"learners":[]}', -- members class-sync put there
    missing_accounts TEXT NOT NULL DEFAULT '[]',
    last_sync        BIGINT,
    last_error       TEXT,
    held_changes     BOOLEAN NOT NULL DEFAULT FALSE, -- MIS changes recorded after the cutoff, never applied
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (group_id, target)
);
CREATE INDEX links_state ON links(state);

CREATE TABLE jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT COLLATE "C" NOT NULL, -- reconcile | archive | restore
    group_id     TEXT COLLATE "C" NOT NULL,
    target       TEXT COLLATE "C" NOT NULL,
    lane         BIGINT NOT NULL,        -- higher runs first
    state        TEXT COLLATE "C" NOT NULL, -- queued | running | done | failed
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at       BIGINT NOT NULL,
    lease_until  BIGINT,
    locked_by    TEXT,
    last_error   TEXT,
    requested_by TEXT,
    dedup_key    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
-- One pending restore per link: pressing Restore twice makes one job. Other kinds are deduplicated
-- by enqueue (under its lock); a second queued one (a released job) is harmless.
CREATE UNIQUE INDEX jobs_live_restore ON jobs(dedup_key) WHERE kind = 'restore' AND state IN ('queued', 'running');
CREATE INDEX jobs_dedup ON jobs(dedup_key, state);
-- Jobs of one link never run at the same time, on any number of machines: at most one running job
-- per link, enforced here (the claim's NOT EXISTS avoids tripping it; a race that does is retried).
CREATE UNIQUE INDEX jobs_running_link ON jobs(group_id, target) WHERE state = 'running';
CREATE INDEX jobs_locked_by ON jobs(locked_by) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs(finished_at);
-- The claim walks one target's runnable jobs in lane order, oldest first.
CREATE INDEX jobs_queue ON jobs(target, lane DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs(target, lease_until) WHERE state = 'running';
CREATE INDEX jobs_link ON jobs(group_id, target, state);

CREATE TABLE audit (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       BIGINT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,              -- restore | sync | archive | nightly | import
    group_id TEXT,
    target   TEXT,
    outcome  TEXT NOT NULL,              -- granted | refused | conflict | not_found | done
    detail   TEXT NOT NULL
);

CREATE TABLE runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,           -- nightly
    today       TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    summary     TEXT NOT NULL DEFAULT '',
    ok          BOOLEAN
);

-- Workers register here and beat every few seconds: a command that waits for its jobs lets a live
-- worker do them instead of starting a second one that would compete for the same quota.
CREATE TABLE workers (
    id         TEXT COLLATE "C" PRIMARY KEY,
    kind       TEXT NOT NULL,            -- serve | work | command
    pid        BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);

-- One row per scheduled job and London day: the process that inserts it runs that day's job, so the
-- nightly job runs once a day however many `serve` processes there are and however often they restart.
-- A claim left unsettled (`enqueued` false: its process died while enqueuing) may be taken over.
CREATE TABLE schedule_claims (
    kind       TEXT NOT NULL,            -- nightly
    day        TEXT NOT NULL,            -- YYYY-MM-DD, Europe/London
    claimed_at BIGINT NOT NULL,
    claimed_by TEXT NOT NULL,
    enqueued   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (kind, day)
);

-- Provisioning status: one row per school per import (JSON or OneRoster) that covered it, with what
-- the import did to that school. `day` is the London date the calendar rules used (`--today`), from
-- which staleness is counted; `at` the wall-clock time it ran.
CREATE TABLE school_imports (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id TEXT COLLATE "C" NOT NULL,
    at        BIGINT NOT NULL,
    day       TEXT NOT NULL,               -- YYYY-MM-DD
    format    TEXT NOT NULL,               -- json | oneroster bulk | oneroster delta
    file      TEXT,
    actor     TEXT NOT NULL,
    added     BIGINT NOT NULL,
    changed   BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    withdrawn BIGINT NOT NULL,
    enqueued  BIGINT NOT NULL,
    held_back TEXT NOT NULL                -- JSON object: reason -> links held back
);
-- A school's latest import and its history, newest first.
CREATE INDEX school_imports_by_school ON school_imports (school_id, id DESC);

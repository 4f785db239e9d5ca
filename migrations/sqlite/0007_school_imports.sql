-- Provisioning status: one row per school per import (JSON or OneRoster) that covered it, with what
-- the import did to that school. `day` is the London date the calendar rules used (`--today`), from
-- which staleness is counted; `at` the wall-clock time it ran.
CREATE TABLE school_imports (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id TEXT NOT NULL,
    at        INTEGER NOT NULL,
    day       TEXT NOT NULL,               -- YYYY-MM-DD
    format    TEXT NOT NULL,               -- json | oneroster bulk | oneroster delta
    file      TEXT,
    actor     TEXT NOT NULL,
    added     INTEGER NOT NULL,
    changed   INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    withdrawn INTEGER NOT NULL,
    enqueued  INTEGER NOT NULL,
    held_back TEXT NOT NULL                -- JSON object: reason -> links held back
);
-- A school's latest import and its history, newest first.
CREATE INDEX school_imports_by_school ON school_imports (school_id, id DESC);

-- 0001's unique index covered queued AND running jobs of every kind, but enqueue (by design) lets a
-- new reconcile or archive wait behind a running one of the same link: that INSERT broke the index
-- and the request failed (an operator's sync or the API while the nightly storm runs). Only a
-- restore is one-per-link while queued or running; other kinds are deduplicated by enqueue's own
-- check inside its write transaction, and a second queued one (a released job) is harmless.
DROP INDEX jobs_live;
CREATE UNIQUE INDEX jobs_live_restore ON jobs(dedup_key) WHERE kind = 'restore' AND state IN ('queued', 'running');
CREATE INDEX jobs_dedup ON jobs(dedup_key, state);

-- A claimed day is settled once its run has enqueued all its work; a claim left unsettled (its
-- process died while enqueuing) may be taken over, so a crash never loses a night.
ALTER TABLE schedule_claims ADD COLUMN enqueued INTEGER NOT NULL DEFAULT 0;

-- The `dateLastModified` of the OneRoster rows a delta applied to a group (RFC 3339, UTC); NULL for
-- groups last written from a JSON snapshot, a bulk set or a push.
ALTER TABLE groups ADD COLUMN source_modified TEXT;

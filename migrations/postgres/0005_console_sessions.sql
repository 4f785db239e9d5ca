-- The web console's sign-ins in flight and its sessions, kept in the store so that every `serve`
-- host on it knows them.
-- A sign-in between the redirect to the identity provider and its return: `state` names it; the
-- nonce and the PKCE verifier prove the answer belongs to it. Taken (deleted) on return: single use.
CREATE TABLE console_sign_ins (
    state      TEXT COLLATE "C" PRIMARY KEY,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    return_to  TEXT NOT NULL,
    expires_at BIGINT NOT NULL           -- Unix ms
);
-- A signed-in person. The cookie holds the session's secret; only its SHA-256 is stored, so a
-- copy of the database opens no session.
CREATE TABLE console_sessions (
    id_hash    TEXT COLLATE "C" PRIMARY KEY,
    person     TEXT NOT NULL,             -- preferred_username, normalised
    csrf       TEXT NOT NULL,             -- the token every form of this session carries
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
CREATE INDEX console_sign_ins_by_expiry ON console_sign_ins (expires_at);

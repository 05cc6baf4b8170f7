-- Keys of third-party apps (Open311 clients). The secret is shown once and only its SHA-256
-- is kept; the public prefix finds the row.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_prefix  text NOT NULL UNIQUE CHECK (key_prefix ~ '^[a-f0-9]{8,32}$'),
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    scopes      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Open311 lists requests newest first within a date window.
CREATE INDEX reports_created_at_idx ON reports (created_at, id);

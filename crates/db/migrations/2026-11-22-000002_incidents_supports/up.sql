-- Incidents carry what duplicate scoring compares (the first report's address and words) and
-- residents can support one ("me too") without filing a new report.
ALTER TABLE incidents
    ADD COLUMN address text CHECK (address IS NULL OR length(address) <= 300),
    ADD COLUMN summary text NOT NULL DEFAULT '' CHECK (length(summary) <= 4000),
    ADD COLUMN last_reported_at timestamptz;

UPDATE incidents i
SET address = first.address, summary = first.description, last_reported_at = first.created_at
FROM (SELECT DISTINCT ON (incident_id) incident_id, address, description, created_at
      FROM reports ORDER BY incident_id, created_at, id) AS first
WHERE first.incident_id = i.id;

UPDATE incidents SET last_reported_at = created_at WHERE last_reported_at IS NULL;
ALTER TABLE incidents ALTER COLUMN last_reported_at SET NOT NULL,
                      ALTER COLUMN last_reported_at SET DEFAULT now();

-- One support per device or account: the supporter is stored as a SHA-256 hash, never in clear.
CREATE TABLE incident_supports (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id    bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    supporter_hash bytea NOT NULL CHECK (length(supporter_hash) = 32),
    -- private: where to send news of this incident, when the supporter asked for it
    notify_email   text CHECK (notify_email IS NULL OR length(notify_email) <= 254),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (incident_id, supporter_hash)
);

DROP TABLE IF EXISTS incident_supports;
ALTER TABLE incidents DROP COLUMN IF EXISTS last_reported_at,
                      DROP COLUMN IF EXISTS summary,
                      DROP COLUMN IF EXISTS address;

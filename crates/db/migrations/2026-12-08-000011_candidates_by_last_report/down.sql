CREATE INDEX incidents_open_group_idx ON incidents (jurisdiction_id, dedup_group, created_at)
    WHERE closed_at IS NULL;
DROP INDEX incidents_open_group_reported_idx;

-- Duplicate candidates are the open incidents of a dedup group last reported within the
-- search window (an open incident reported again stays a live problem, whenever it opened),
-- and the group's vocabulary is read from its most recently reported open incidents.
CREATE INDEX incidents_open_group_reported_idx
    ON incidents (jurisdiction_id, dedup_group, last_reported_at)
    WHERE closed_at IS NULL;
DROP INDEX incidents_open_group_idx;

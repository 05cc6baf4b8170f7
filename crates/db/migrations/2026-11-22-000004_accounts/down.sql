DROP TRIGGER incidents_due_at ON incidents;
DROP FUNCTION incidents_set_due_at();
DROP FUNCTION incident_due_at(bigint, timestamptz);
DROP INDEX incidents_queue_idx;
ALTER TABLE incidents DROP COLUMN merged_into_id, DROP COLUMN due_at, DROP COLUMN assignee_id,
    DROP COLUMN version;
DELETE FROM report_events WHERE kind = 'split';
ALTER TABLE report_events DROP CONSTRAINT report_events_kind_check;
ALTER TABLE report_events ADD CONSTRAINT report_events_kind_check
    CHECK (kind IN ('created', 'status_changed', 'comment', 'merged', 'internal_note'));
DROP INDEX reports_device_idx;
DROP INDEX reports_reporter_idx;
ALTER TABLE reports DROP COLUMN device_hash, DROP COLUMN reporter_id;
ALTER TABLE jurisdictions DROP COLUMN reopen_window_days;
ALTER TABLE categories DROP COLUMN sla_days;
DROP TABLE audit_log;
DROP TABLE refresh_tokens;
DROP TABLE staff_departments;
DROP TABLE users;

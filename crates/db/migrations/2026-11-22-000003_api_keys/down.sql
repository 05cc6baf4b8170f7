DROP INDEX reports_created_at_idx;
DROP TABLE api_keys;

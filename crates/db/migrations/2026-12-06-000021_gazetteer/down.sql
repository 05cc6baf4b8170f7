DROP TABLE addresses;
-- pg_trgm is this migration's (nothing else uses it).
DROP EXTENSION IF EXISTS pg_trgm;

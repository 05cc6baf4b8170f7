DROP INDEX incidents_open_queue_gist;
-- btree_gist is this migration's (nothing else uses it).
DROP EXTENSION IF EXISTS btree_gist;
DROP INDEX reports_place_id_gist;
DROP FUNCTION report_area_window(double precision, double precision, double precision,
                                 double precision, bigint, bigint);
DROP FUNCTION report_place_and_id(geography, bigint);

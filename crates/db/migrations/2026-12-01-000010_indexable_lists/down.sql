DROP INDEX reports_place_id_gist;
DROP FUNCTION report_area_window(double precision, double precision, double precision,
                                 double precision, bigint, bigint);
DROP FUNCTION report_place_and_id(geography, bigint);

-- The inputs every scenario draws from, for wrk (exported as CSV) and pgbench (read by row
-- number): positions of stored reports moved by up to ~30 m, inside a service area, with the
-- category's duplicate search bounds (as crates/domain/src/dedup.rs derives them: -ln(0.2)
-- times the category's radius, four times its window), a viewport of ~800 x 650 m for bbox lists, and the
-- tiles around the point at a zoom of 10..16 for map clusters (3 x 4 tiles, as a phone shows),
-- and the category and default department a create of that point uses.
DROP TABLE IF EXISTS bench_points;
CREATE TABLE bench_points AS
WITH picked AS (
    SELECT ST_X(location::geometry) + (random() - 0.5) * 0.0007 AS lon,
           ST_Y(location::geometry) + (random() - 0.5) * 0.0005 AS lat,
           category_id
    FROM reports ORDER BY random() LIMIT 3000
), inside AS (
    SELECT p.* FROM picked p
    WHERE EXISTS (SELECT 1 FROM service_areas a
                  WHERE ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)))
    LIMIT 2000
), numbered AS (
    SELECT row_number() OVER () AS n, i.*, c.code, c.dedup_group,
           c.id AS c_id, c.default_priority AS c_default_priority,
           (SELECT j.default_department_id FROM jurisdictions j WHERE j.id = c.jurisdiction_id)
               AS d_default_department_id,
           c.dedup_radius_m * -ln(0.2) AS radius,
           c.dedup_window_days * 4 * 86400 AS window_secs
    FROM inside i JOIN categories c ON c.id = i.category_id
), tiled AS (
    SELECT *, 10 + (n % 7)::int AS zoom FROM numbered
), tiles AS (
    SELECT *, floor((lon + 180) / 360 * 2 ^ zoom)::int AS tx,
              floor((1 - ln(tan(radians(lat)) + 1 / cos(radians(lat))) / pi()) / 2 * 2 ^ zoom)::int AS ty
    FROM tiled
)
SELECT n, lon, lat, code, dedup_group, radius, window_secs,
       lon - 0.005 AS w, lat - 0.003 AS s, lon + 0.005 AS e, lat + 0.003 AS nn,
       zoom,
       (tx - 1) / 2 ^ zoom * 360 - 180 AS tw,
       degrees(atan(sinh(pi() * (1 - 2 * (ty + 3) / 2 ^ zoom)))) AS ts,
       (tx + 2) / 2 ^ zoom * 360 - 180 AS te,
       degrees(atan(sinh(pi() * (1 - 2 * (ty - 1) / 2 ^ zoom)))) AS tn,
       zoom + 2 AS level,
       (tx - 1) * 4 AS cx0, (tx + 2) * 4 - 1 AS cx1, (ty - 1) * 4 AS cy0, (ty + 3) * 4 - 1 AS cy1,
       -- what create reads from the server's catalog copy (crates/api/src/catalog_cache.rs)
       c_id, c_default_priority, d_default_department_id
FROM tiles;
CREATE UNIQUE INDEX ON bench_points (n);
-- Nearby and bbox lists search windows of recent ids (crates/db/src/reports.rs, `list_public`):
-- the box the handler draws around the 250 m circle, and how many windows each point needs
-- (the first that holds a full page, or the last), so that the SQL runs what the handler runs.
ALTER TABLE bench_points ADD COLUMN cw float8, ADD COLUMN cs float8, ADD COLUMN ce float8,
    ADD COLUMN cn float8, ADD COLUMN nearby_windows int, ADD COLUMN bbox_windows int;
UPDATE bench_points SET cs = lat - 250 / 110000.0, cn = lat + 250 / 110000.0;
UPDATE bench_points
SET cw = lon - 250 / (111000 * cos(radians(greatest(abs(cs), abs(cn))))),
    ce = lon + 250 / (111000 * cos(radians(greatest(abs(cs), abs(cn)))));
WITH hi AS (SELECT max(id) + 1 AS hi FROM reports),
windows AS (SELECT k, lo FROM hi, LATERAL (VALUES (1, hi - 10000), (2, hi - 90000),
                                                  (3, hi - 730000), (4, 0)) AS w (k, lo))
UPDATE bench_points p SET
    nearby_windows = (SELECT min(k) FROM windows WHERE lo <= 0 OR (SELECT count(*) FROM (
        SELECT 1 FROM reports r WHERE r.id >= lo
        AND ST_DWithin(r.location, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography, 250)
        LIMIT 21) x) >= 21),
    bbox_windows = (SELECT min(k) FROM windows WHERE lo <= 0 OR (SELECT count(*) FROM (
        SELECT 1 FROM reports r WHERE r.id >= lo
        AND geometry(r.location) && ST_MakeEnvelope(p.w, p.s, p.e, p.nn, 4326)
        LIMIT 51) x) >= 51);
ANALYZE bench_points;

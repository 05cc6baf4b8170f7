-- Lists that cost what their page costs, not what the table holds.
--
-- "The newest reports of an area" (nearby and bbox lists): a GiST index over (longitude,
-- latitude, id) as one 3-D point, so a search for an area *and* a range of ids reads only the
-- reports inside both. The list asks for the newest ids first (a window of recent ids, widened
-- until the page is full: crates/db/src/reports.rs), so a page reads about as many reports as
-- it shows whatever the size of the table.
CREATE FUNCTION report_place_and_id(location geography, id bigint) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_MakePoint(ST_X(location::geometry), ST_Y(location::geometry), id::double precision)
$$;
-- The search box for `report_place_and_id`: a lon/lat rectangle and the ids lo <= id < hi.
CREATE FUNCTION report_area_window(west double precision, south double precision,
                                   east double precision, north double precision,
                                   lo bigint, hi bigint) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ST_MakeLine(ST_MakePoint(west, south, lo::double precision),
                       ST_MakePoint(east, north, hi::double precision))
$$;
CREATE INDEX reports_place_id_gist ON reports
    USING gist (report_place_and_id(location, id) gist_geometry_ops_nd);

-- The crew queue (crates/db/src/jobs.rs, `queue`): per priority and due tier, the nearest open
-- jobs of a department (KNN `<->` on location), with the tier and department tested in the
-- index. Priority comes first so that each priority's jobs are organised by place.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX incidents_open_queue_gist ON incidents
    USING gist (priority, location, due_at, department_id) WHERE closed_at IS NULL;

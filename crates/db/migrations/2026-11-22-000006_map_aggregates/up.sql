-- The map at city scale: report counts per Web Mercator grid cell, precomputed for the low and
-- middle zooms so a map view never ships (or even reads) every point.
--
-- Cells are the tiles of a slippy map at `level` (2^level cells per side). A map at zoom z asks
-- for level z + 2 (cells of 64 screen pixels); levels 2..18 are stored, finer ones are computed
-- from the reports in view.
--
-- Freshness: a new report is counted from `reports` directly until a fold moves it into
-- `map_cells` (the server folds every few seconds; `map_folded` marks what was moved), so counts
-- are exact at every moment. A folded report whose status or category changes moves between
-- cells through a trigger. Locations never change after a report is made.

-- Cell numbers of a position at `level`, in integers (Web Mercator, as map tiles).
CREATE FUNCTION map_cell_x(lon double precision, level integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT least(greatest(floor((lon + 180.0) / 360.0 * (2.0 ^ level)), 0), (2.0 ^ level) - 1)::integer
$$;

CREATE FUNCTION map_cell_y(lat double precision, level integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT least(greatest(floor(
        (1.0 - ln(tan(radians(least(greatest(lat, -85.0511287798), 85.0511287798)))
                  + 1.0 / cos(radians(least(greatest(lat, -85.0511287798), 85.0511287798)))) / pi())
        / 2.0 * (2.0 ^ level)), 0), (2.0 ^ level) - 1)::integer
$$;

CREATE TABLE map_cells (
    level       smallint NOT NULL CHECK (level BETWEEN 2 AND 18),
    cell_x      integer NOT NULL,
    cell_y      integer NOT NULL,
    category_id bigint NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    status      text NOT NULL,
    reports     integer NOT NULL,
    -- sums of the positions, for the mean position of each cell's reports
    sum_lon     double precision NOT NULL,
    sum_lat     double precision NOT NULL,
    PRIMARY KEY (level, cell_x, cell_y, category_id, status)
);

ALTER TABLE reports ADD COLUMN map_folded boolean NOT NULL DEFAULT false;
-- what the next fold moves, and what map queries count from `reports` until then
CREATE INDEX reports_map_unfolded_idx ON reports (id) WHERE NOT map_folded;

-- Adds `n` reports (negative to remove) at one position to every stored level.
CREATE FUNCTION map_cells_add(p_location geography, p_category bigint, p_status text, p_n integer)
    RETURNS void LANGUAGE sql AS $$
    INSERT INTO map_cells AS m (level, cell_x, cell_y, category_id, status, reports, sum_lon, sum_lat)
    SELECT l, map_cell_x(ST_X(p_location::geometry), l), map_cell_y(ST_Y(p_location::geometry), l),
           p_category, p_status, p_n, p_n * ST_X(p_location::geometry), p_n * ST_Y(p_location::geometry)
    FROM generate_series(2, 18) AS l
    ON CONFLICT (level, cell_x, cell_y, category_id, status) DO UPDATE
    SET reports = m.reports + excluded.reports,
        sum_lon = m.sum_lon + excluded.sum_lon,
        sum_lat = m.sum_lat + excluded.sum_lat
$$;

CREATE FUNCTION map_cells_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM map_cells_add(OLD.location, OLD.category_id, OLD.status, -1);
    PERFORM map_cells_add(NEW.location, NEW.category_id, NEW.status, 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER reports_map_cells_move
    AFTER UPDATE OF status, category_id ON reports
    FOR EACH ROW
    WHEN (OLD.map_folded AND NEW.map_folded
          AND (OLD.status, OLD.category_id) IS DISTINCT FROM (NEW.status, NEW.category_id))
    EXECUTE FUNCTION map_cells_move();

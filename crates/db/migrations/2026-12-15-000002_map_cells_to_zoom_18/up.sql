-- Stored counts reach zoom 18 (levels 19 and 20: cells of about 55 m and 28 m in Boston). At
-- 1M reports a phone's view at zoom 17, counted from the reports themselves, read some 30,000
-- scattered rows (89 ms at the median); from the stored counts it reads a row per non-empty
-- cell, category and status. Zooms 19 and 20 still count the reports in view: a few streets.
-- Cells also keep the sum of their reports' ids, which is the id of the report of a cell that
-- holds exactly one (the map links a lone report at every stored zoom as it did from 17 on).
ALTER TABLE map_cells DROP CONSTRAINT map_cells_level_check;
ALTER TABLE map_cells ADD CONSTRAINT map_cells_level_check CHECK (level BETWEEN 2 AND 20);
ALTER TABLE map_cells ADD COLUMN sum_id bigint NOT NULL DEFAULT 0;

-- Adds `n` reports (negative to remove) of one id and position to every stored level.
DROP FUNCTION map_cells_add(geography, bigint, text, integer);
CREATE FUNCTION map_cells_add(p_id bigint, p_location geography, p_category bigint, p_status text,
                              p_n integer)
    RETURNS void LANGUAGE sql AS $$
    INSERT INTO map_cells AS m (level, cell_x, cell_y, category_id, status, reports, sum_lon, sum_lat,
                                sum_id)
    SELECT l, map_cell_x(ST_X(p_location::geometry), l), map_cell_y(ST_Y(p_location::geometry), l),
           p_category, p_status, p_n, p_n * ST_X(p_location::geometry), p_n * ST_Y(p_location::geometry),
           p_n * p_id
    FROM generate_series(2, 20) AS l
    ON CONFLICT (level, cell_x, cell_y, category_id, status) DO UPDATE
    SET reports = m.reports + excluded.reports,
        sum_lon = m.sum_lon + excluded.sum_lon,
        sum_lat = m.sum_lat + excluded.sum_lat,
        sum_id = m.sum_id + excluded.sum_id
$$;

CREATE OR REPLACE FUNCTION map_cells_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM map_cells_add(OLD.id, OLD.location, OLD.category_id, OLD.status, -1);
    PERFORM map_cells_add(NEW.id, NEW.location, NEW.category_id, NEW.status, 1);
    RETURN NULL;
END
$$;

-- The folded reports counted again at every stored level (the finest first, the others by
-- shifting its cell numbers, as the fold does).
TRUNCATE map_cells;
WITH fine AS (
    SELECT map_cell_x(ST_X(location::geometry), 20) AS x, map_cell_y(ST_Y(location::geometry), 20) AS y,
           category_id, status, count(*) AS n, sum(ST_X(location::geometry)) AS sx,
           sum(ST_Y(location::geometry)) AS sy, sum(id) AS si
    FROM reports WHERE map_folded GROUP BY 1, 2, 3, 4
)
INSERT INTO map_cells (level, cell_x, cell_y, category_id, status, reports, sum_lon, sum_lat, sum_id)
SELECT l, x >> (20 - l), y >> (20 - l), category_id, status, sum(n)::integer, sum(sx), sum(sy),
       sum(si)::bigint
FROM fine CROSS JOIN generate_series(2, 20) AS l
GROUP BY 1, 2, 3, 4, 5;

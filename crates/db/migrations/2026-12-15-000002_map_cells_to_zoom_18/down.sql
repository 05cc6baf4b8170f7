DELETE FROM map_cells WHERE level > 18;
ALTER TABLE map_cells DROP CONSTRAINT map_cells_level_check;
ALTER TABLE map_cells ADD CONSTRAINT map_cells_level_check CHECK (level BETWEEN 2 AND 18);
ALTER TABLE map_cells DROP COLUMN sum_id;

DROP FUNCTION map_cells_add(bigint, geography, bigint, text, integer);
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

CREATE OR REPLACE FUNCTION map_cells_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM map_cells_add(OLD.location, OLD.category_id, OLD.status, -1);
    PERFORM map_cells_add(NEW.location, NEW.category_id, NEW.status, 1);
    RETURN NULL;
END
$$;

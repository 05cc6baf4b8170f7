DROP TRIGGER reports_map_cells_move ON reports;
DROP FUNCTION map_cells_move();
DROP FUNCTION map_cells_add(geography, bigint, text, integer);
DROP INDEX reports_map_unfolded_idx;
ALTER TABLE reports DROP COLUMN map_folded;
DROP TABLE map_cells;
DROP FUNCTION map_cell_y(double precision, integer);
DROP FUNCTION map_cell_x(double precision, integer);

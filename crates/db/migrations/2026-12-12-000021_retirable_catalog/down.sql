ALTER TABLE service_areas DROP COLUMN active;
ALTER TABLE departments DROP COLUMN active;

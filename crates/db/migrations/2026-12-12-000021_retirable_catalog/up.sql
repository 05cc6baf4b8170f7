-- Departments and service areas are retired rather than deleted: reports, incidents and staff
-- keep pointing at them, so the history stays whole. A retired area places no new report; a
-- retired department receives no new route, category or staff member. (Categories already
-- have `active`.)
ALTER TABLE departments ADD COLUMN active boolean NOT NULL DEFAULT true;
ALTER TABLE service_areas ADD COLUMN active boolean NOT NULL DEFAULT true;

DROP VIEW IF EXISTS public_reports;
DROP TABLE IF EXISTS report_events;
DROP TABLE IF EXISTS reports;
DROP TABLE IF EXISTS incidents;
DROP TABLE IF EXISTS routes;
DROP TABLE IF EXISTS service_areas;
DROP TABLE IF EXISTS categories;
ALTER TABLE IF EXISTS jurisdictions DROP CONSTRAINT IF EXISTS jurisdictions_default_department_fk;
DROP TABLE IF EXISTS departments;
DROP TABLE IF EXISTS jurisdictions;
-- postgis stays: other schemas may use it, and dropping an extension is an operator's decision

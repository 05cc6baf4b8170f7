-- A view cannot lose a column in place: it is made again as it was.
DROP VIEW public_reports;
CREATE VIEW public_reports AS
SELECT r.id,
       r.jurisdiction_id,
       j.slug AS jurisdiction_slug,
       r.category_id,
       c.code AS category_code,
       c.name AS category_name,
       r.incident_id,
       r.location,
       r.location_accuracy_m,
       r.address,
       r.description,
       r.status,
       r.priority,
       d.code AS department_code,
       d.name AS department_name,
       a.code AS service_area_code,
       a.name AS service_area_name,
       r.source,
       r.created_at,
       r.updated_at,
       r.closed_at,
       r.external_media_url,
       i.due_at
FROM reports r
JOIN jurisdictions j ON j.id = r.jurisdiction_id
JOIN categories c ON c.id = r.category_id
JOIN incidents i ON i.id = r.incident_id
LEFT JOIN departments d ON d.id = r.department_id
LEFT JOIN service_areas a ON a.id = r.service_area_id;

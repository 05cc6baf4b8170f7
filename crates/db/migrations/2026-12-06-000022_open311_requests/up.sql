-- Open311 requests keep two more things.
--
-- external_media_url: the photo link a client gave in `media_url`. The server never fetches it,
-- so it is shown as the client's link, neither checked nor re-encoded like an uploaded photo.
-- api_key_id: the third-party app that sent the request; its idempotency keys are its own, so
-- two apps choosing the same key value never collide. Reports without an API key (the PWA, the
-- REST API) keep one key space per jurisdiction, as before.
ALTER TABLE reports
    ADD COLUMN external_media_url text
        CHECK (external_media_url IS NULL OR length(external_media_url) BETWEEN 1 AND 2048),
    ADD COLUMN api_key_id bigint REFERENCES api_keys (id);

DROP INDEX reports_idempotency_key_unique;
CREATE UNIQUE INDEX reports_idempotency_key_unique
    ON reports (jurisdiction_id, api_key_id, idempotency_key) NULLS NOT DISTINCT
    WHERE idempotency_key IS NOT NULL;

-- The link is public (Open311 publishes media_url); nothing else is added.
CREATE OR REPLACE VIEW public_reports AS
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
       r.external_media_url
FROM reports r
JOIN jurisdictions j ON j.id = r.jurisdiction_id
JOIN categories c ON c.id = r.category_id
LEFT JOIN departments d ON d.id = r.department_id
LEFT JOIN service_areas a ON a.id = r.service_area_id;

-- The foundation of Signalons' data model (DESIGN.md §3).
-- Every row that belongs to a city carries jurisdiction_id so one deployment can host several
-- cities and, at national scale, the tables shard by city.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE jurisdictions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9.-]{1,62}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    boundary      geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(boundary)),
    locale        text NOT NULL DEFAULT 'en',
    time_zone     text NOT NULL DEFAULT 'UTC',
    default_department_id bigint,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jurisdictions_boundary_gist ON jurisdictions USING gist (boundary);

CREATE TABLE departments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    code            text NOT NULL CHECK (code ~ '^[A-Z0-9_]{2,16}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    names           jsonb NOT NULL DEFAULT '{}'::jsonb,
    channel         text NOT NULL DEFAULT 'internal'
                    CHECK (channel IN ('internal', 'email', 'webhook', 'open311')),
    channel_config  jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jurisdiction_id, code),
    -- lets composite foreign keys prove a department belongs to the same city as the row
    UNIQUE (jurisdiction_id, id)
);

ALTER TABLE jurisdictions
    ADD CONSTRAINT jurisdictions_default_department_fk
    FOREIGN KEY (id, default_department_id) REFERENCES departments (jurisdiction_id, id)
    DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE categories (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id   bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    code              text NOT NULL CHECK (code ~ '^[a-z0-9_]{2,48}$'),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    names             jsonb NOT NULL DEFAULT '{}'::jsonb,
    description       text NOT NULL DEFAULT '',
    descriptions      jsonb NOT NULL DEFAULT '{}'::jsonb,
    group_name        text NOT NULL DEFAULT 'Other',
    dedup_group       text NOT NULL CHECK (dedup_group ~ '^[a-z0-9_]{2,48}$'),
    attributes        jsonb NOT NULL DEFAULT '[]'::jsonb,
    default_priority  smallint NOT NULL DEFAULT 3 CHECK (default_priority BETWEEN 1 AND 5),
    dedup_radius_m    integer NOT NULL DEFAULT 50 CHECK (dedup_radius_m BETWEEN 1 AND 5000),
    dedup_window_days integer NOT NULL DEFAULT 30 CHECK (dedup_window_days BETWEEN 1 AND 3650),
    allow_anonymous   boolean NOT NULL DEFAULT true,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jurisdiction_id, code),
    UNIQUE (jurisdiction_id, id)
);

CREATE TABLE service_areas (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    code            text NOT NULL CHECK (code ~ '^[a-z0-9_-]{1,64}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind            text NOT NULL DEFAULT 'neighborhood' CHECK (kind ~ '^[a-z_]{2,32}$'),
    -- among overlapping areas of a jurisdiction, the highest priority wins
    priority        integer NOT NULL DEFAULT 0,
    geom            geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jurisdiction_id, code),
    UNIQUE (jurisdiction_id, id)
);
CREATE INDEX service_areas_geom_gist ON service_areas USING gist (geom);

-- (category or dedup group, service area or whole jurisdiction) -> department;
-- the most specific match wins.
CREATE TABLE routes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    category_id     bigint,
    dedup_group     text,
    service_area_id bigint,
    department_id   bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (category_id IS NULL OR dedup_group IS NULL),
    FOREIGN KEY (jurisdiction_id, category_id) REFERENCES categories (jurisdiction_id, id) ON DELETE CASCADE,
    FOREIGN KEY (jurisdiction_id, service_area_id) REFERENCES service_areas (jurisdiction_id, id) ON DELETE CASCADE,
    FOREIGN KEY (jurisdiction_id, department_id) REFERENCES departments (jurisdiction_id, id)
);
CREATE UNIQUE INDEX routes_match_unique ON routes (
    jurisdiction_id, coalesce(category_id, 0), coalesce(dedup_group, ''), coalesce(service_area_id, 0)
);

CREATE TABLE incidents (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id  bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    category_id      bigint NOT NULL,
    dedup_group      text NOT NULL,
    location         geography(Point, 4326) NOT NULL,
    status           text NOT NULL DEFAULT 'submitted',
    priority         smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    department_id    bigint,
    service_area_id  bigint,
    report_count     integer NOT NULL DEFAULT 0 CHECK (report_count >= 0),
    supporters_count integer NOT NULL DEFAULT 0 CHECK (supporters_count >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz,
    FOREIGN KEY (jurisdiction_id, category_id) REFERENCES categories (jurisdiction_id, id),
    FOREIGN KEY (jurisdiction_id, department_id) REFERENCES departments (jurisdiction_id, id),
    FOREIGN KEY (jurisdiction_id, service_area_id) REFERENCES service_areas (jurisdiction_id, id)
);
CREATE INDEX incidents_location_gist ON incidents USING gist (location);
-- duplicate candidates are searched among open incidents of one dedup group
CREATE INDEX incidents_open_group_idx ON incidents (jurisdiction_id, dedup_group, created_at)
    WHERE closed_at IS NULL;

CREATE TABLE reports (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id     bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    category_id         bigint NOT NULL,
    incident_id         bigint NOT NULL REFERENCES incidents (id),
    location            geography(Point, 4326) NOT NULL,
    location_accuracy_m real CHECK (location_accuracy_m IS NULL OR location_accuracy_m BETWEEN 0 AND 100000),
    address             text CHECK (address IS NULL OR length(address) <= 300),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    attributes          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status              text NOT NULL,
    priority            smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    department_id       bigint,
    service_area_id     bigint,
    source              text NOT NULL CHECK (source IN ('pwa', 'api', 'open311', 'staff', 'sensor', 'import')),
    -- private: never in public responses
    contact_email       text CHECK (contact_email IS NULL OR length(contact_email) <= 254),
    idempotency_key     text CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 255),
    -- sha-256 of the canonical request, to refuse a key reused for a different report
    request_fingerprint bytea,
    external_id         text CHECK (external_id IS NULL OR length(external_id) <= 64),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    closed_at           timestamptz,
    CHECK (closed_at IS NULL OR closed_at >= created_at),
    FOREIGN KEY (jurisdiction_id, category_id) REFERENCES categories (jurisdiction_id, id),
    FOREIGN KEY (jurisdiction_id, department_id) REFERENCES departments (jurisdiction_id, id),
    FOREIGN KEY (jurisdiction_id, service_area_id) REFERENCES service_areas (jurisdiction_id, id)
);
CREATE INDEX reports_location_gist ON reports USING gist (location);
-- map viewports are planar boxes: this index answers them exactly, without casting to geography
CREATE INDEX reports_location_box_gist ON reports USING gist (geometry(location));
CREATE INDEX reports_incident_idx ON reports (incident_id);
CREATE INDEX reports_category_idx ON reports (category_id, id);
CREATE INDEX reports_status_idx ON reports (status, id);
CREATE INDEX reports_updated_at_idx ON reports (updated_at, id);
CREATE UNIQUE INDEX reports_idempotency_key_unique ON reports (jurisdiction_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX reports_external_id_unique ON reports (jurisdiction_id, source, external_id)
    WHERE external_id IS NOT NULL;

-- The public history of a report; internal notes are flagged and never public.
CREATE TABLE report_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id   bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('created', 'status_changed', 'comment', 'merged', 'internal_note')),
    status_from text,
    status_to   text,
    body        text NOT NULL DEFAULT '' CHECK (length(body) <= 4000),
    is_internal boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_events_report_idx ON report_events (report_id, created_at, id);

-- Status values are the public status machine of DESIGN.md §4, enforced in the domain crate;
-- the database refuses anything else too.
ALTER TABLE reports ADD CONSTRAINT reports_status_check CHECK (status IN
    ('submitted', 'acknowledged', 'scheduled', 'in_progress', 'resolved',
     'duplicate', 'not_responsible', 'rejected', 'reopened'));
ALTER TABLE incidents ADD CONSTRAINT incidents_status_check CHECK (status IN
    ('submitted', 'acknowledged', 'scheduled', 'in_progress', 'resolved',
     'duplicate', 'not_responsible', 'rejected', 'reopened'));

-- What the public may see of a report: no contact email, no idempotency key, no fingerprint.
-- Public endpoints read this view only, so personal data cannot leak through a forgotten column.
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
       r.closed_at
FROM reports r
JOIN jurisdictions j ON j.id = r.jurisdiction_id
JOIN categories c ON c.id = r.category_id
LEFT JOIN departments d ON d.id = r.department_id
LEFT JOIN service_areas a ON a.id = r.service_area_id;

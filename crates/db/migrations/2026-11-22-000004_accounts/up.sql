-- Accounts, staff scopes, refresh tokens, the audit log, and what crews need on incidents:
-- an assignee, a version for optimistic concurrency and a due date from the category's SLA.

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- stored lower-cased so that one address is one account
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email = lower(email)),
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    display_name    text NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
    role            text NOT NULL DEFAULT 'resident'
                    CHECK (role IN ('resident', 'crew', 'dispatcher', 'admin')),
    -- staff belong to one city; residents to none
    jurisdiction_id bigint REFERENCES jurisdictions (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    CHECK ((role = 'resident') = (jurisdiction_id IS NULL)),
    UNIQUE (jurisdiction_id, id)
);
CREATE UNIQUE INDEX users_email_unique ON users (email);

-- The departments a crew member or dispatcher works for, in their own city only.
CREATE TABLE staff_departments (
    user_id         bigint NOT NULL,
    department_id   bigint NOT NULL,
    jurisdiction_id bigint NOT NULL,
    PRIMARY KEY (user_id, department_id),
    FOREIGN KEY (jurisdiction_id, user_id) REFERENCES users (jurisdiction_id, id) ON DELETE CASCADE,
    FOREIGN KEY (jurisdiction_id, department_id) REFERENCES departments (jurisdiction_id, id) ON DELETE CASCADE
);
CREATE INDEX staff_departments_department_idx ON staff_departments (department_id);

-- Refresh tokens rotate: each use marks the token used and issues the next of its family.
-- A used token presented again means it was stolen: the whole family is revoked.
CREATE TABLE refresh_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family      bytea NOT NULL CHECK (length(family) = 16),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Every staff action, with who did it; never public.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id bigint REFERENCES jurisdictions (id) ON DELETE CASCADE,
    actor_id        bigint REFERENCES users (id) ON DELETE SET NULL,
    action          text NOT NULL CHECK (action ~ '^[a-z_]{2,32}\.[a-z_]{2,32}$'),
    target_id       bigint,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_jurisdiction_idx ON audit_log (jurisdiction_id, created_at, id);
CREATE INDEX audit_log_target_idx ON audit_log (action, target_id);

-- How long a category's problems may wait, in days; due at the end of that local day.
ALTER TABLE categories
    ADD COLUMN sla_days integer CHECK (sla_days IS NULL OR sla_days BETWEEN 1 AND 365);
-- How long after a resolution its reporter may reopen it.
ALTER TABLE jurisdictions
    ADD COLUMN reopen_window_days integer NOT NULL DEFAULT 14
        CHECK (reopen_window_days BETWEEN 0 AND 365);

ALTER TABLE reports
    ADD COLUMN reporter_id bigint REFERENCES users (id) ON DELETE SET NULL,
    -- SHA-256 of the reporting device's id, so a resident who signs up can claim its reports
    ADD COLUMN device_hash bytea CHECK (device_hash IS NULL OR length(device_hash) = 32);
CREATE INDEX reports_reporter_idx ON reports (reporter_id) WHERE reporter_id IS NOT NULL;
CREATE INDEX reports_device_idx ON reports (device_hash) WHERE device_hash IS NOT NULL;

ALTER TABLE incidents
    ADD COLUMN version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN assignee_id bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN due_at      timestamptz,
    -- a merged incident stays, closed as a duplicate, so links to it lead to the one it joined
    ADD COLUMN merged_into_id bigint REFERENCES incidents (id);

-- staff split reports off an incident; the public history says so
ALTER TABLE report_events DROP CONSTRAINT report_events_kind_check;
ALTER TABLE report_events ADD CONSTRAINT report_events_kind_check
    CHECK (kind IN ('created', 'status_changed', 'comment', 'merged', 'split', 'internal_note'));
-- the crew queue: a department's open incidents by priority and age
CREATE INDEX incidents_queue_idx ON incidents (department_id, priority, created_at)
    WHERE closed_at IS NULL;

-- The due date of an incident of `category` opened at `opened`: the end of the local day
-- `sla_days` days later, in the jurisdiction's time zone (DST included). In SQL because every
-- insert path (API, history import, bulk generators) must get it.
CREATE FUNCTION incident_due_at(category bigint, opened timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT (date_trunc('day', opened AT TIME ZONE j.time_zone)
            + make_interval(days => c.sla_days + 1)) AT TIME ZONE j.time_zone
    FROM categories c JOIN jurisdictions j ON j.id = c.jurisdiction_id
    WHERE c.id = category AND c.sla_days IS NOT NULL
$$;

CREATE FUNCTION incidents_set_due_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.due_at := incident_due_at(NEW.category_id, NEW.created_at);
    RETURN NEW;
END
$$;
CREATE TRIGGER incidents_due_at BEFORE INSERT ON incidents
    FOR EACH ROW WHEN (NEW.due_at IS NULL) EXECUTE FUNCTION incidents_set_due_at();

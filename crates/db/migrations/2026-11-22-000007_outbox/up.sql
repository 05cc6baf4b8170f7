-- Third-party apps subscribe with their API key to events of a city, delivered as signed
-- webhooks like a department's.
CREATE TABLE webhook_subscriptions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    api_key_id      bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (length(url) BETWEEN 10 AND 2000),
    -- signs every delivery; kept because signing needs it
    secret          text NOT NULL CHECK (length(secret) BETWEEN 16 AND 200),
    events          text[] NOT NULL CHECK (cardinality(events) > 0
                        AND events <@ ARRAY['report.created', 'report.status_changed']),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX webhook_subscriptions_live_idx ON webhook_subscriptions (jurisdiction_id)
    WHERE revoked_at IS NULL;

-- Residents who want to hear of new problems in a radius or a service area, immediately or
-- once a day. An alert works once its email confirmed it (double opt-in).
CREATE TABLE area_alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    -- private
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    center          geography(Point, 4326),
    radius_m        integer CHECK (radius_m BETWEEN 50 AND 5000),
    service_area_id bigint REFERENCES service_areas (id) ON DELETE CASCADE,
    -- empty: every category
    category_codes  text[] NOT NULL DEFAULT '{}' CHECK (cardinality(category_codes) <= 50),
    frequency       text NOT NULL CHECK (frequency IN ('immediate', 'daily')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    cancelled_at    timestamptz,
    last_digest_at  timestamptz,
    CHECK ((center IS NOT NULL AND radius_m IS NOT NULL) <> (service_area_id IS NOT NULL))
);
CREATE INDEX area_alerts_center_gist ON area_alerts USING gist (center)
    WHERE confirmed_at IS NOT NULL AND cancelled_at IS NULL;

-- Messages to send, written in the same transaction as the change that causes them, and
-- delivered by workers that claim them with FOR UPDATE SKIP LOCKED: nothing acknowledged is
-- lost, and a message retried after a crash carries the same delivery key.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    -- what happened: a new report for its department, or a status change for a resident
    message         text NOT NULL CHECK (message IN ('report_created', 'status_changed',
                                                 'alert_confirm', 'area_alert', 'area_digest')),
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook', 'open311')),
    -- private: an email address or a URL
    destination     text NOT NULL CHECK (length(destination) BETWEEN 3 AND 2000),
    department_id   bigint REFERENCES departments (id) ON DELETE CASCADE,
    subscription_id bigint REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    -- the report it is about (none for an alert's confirmation or digest)
    report_id       bigint REFERENCES reports (id) ON DELETE CASCADE,
    alert_id        bigint REFERENCES area_alerts (id) ON DELETE CASCADE,
    -- what the message says beyond the report (the new status and its explanation)
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    delivery_key    text NOT NULL UNIQUE CHECK (length(delivery_key) BETWEEN 1 AND 200),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text CHECK (last_error IS NULL OR length(last_error) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX outbox_report_idx ON outbox (report_id);

-- Reports forwarded to another Open311 server: its id for them, and the last status read back.
CREATE TABLE forwards (
    report_id          bigint PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    department_id      bigint NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    service_request_id text NOT NULL CHECK (length(service_request_id) BETWEEN 1 AND 100),
    remote_status      text NOT NULL DEFAULT 'open' CHECK (remote_status IN ('open', 'closed')),
    forwarded_at       timestamptz NOT NULL,
    polled_at          timestamptz
);
CREATE INDEX forwards_open_idx ON forwards (department_id, polled_at) WHERE remote_status = 'open';

-- Residents who clicked "unsubscribe": the SHA-256 of the lower-cased address only.
CREATE TABLE email_optouts (
    email_hash bytea PRIMARY KEY CHECK (length(email_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

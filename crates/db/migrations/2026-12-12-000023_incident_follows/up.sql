-- Following an incident without supporting it: a signed-in resident (by account) or a phone
-- (by its device id, hashed like a supporter's) hears of its status changes, and a signed-in
-- resident finds the incidents they follow. Residents who support while signed in follow too.
CREATE TABLE incident_follows (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id   bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    -- SHA-256 of the account or the device, as for supports: never the device id in clear
    follower_hash bytea NOT NULL CHECK (length(follower_hash) = 32),
    -- set for accounts, so they can list what they follow
    user_id       bigint REFERENCES users (id) ON DELETE CASCADE,
    -- private: where to send news of this incident, when the follower asked for it
    notify_email  text CHECK (notify_email IS NULL OR length(notify_email) <= 254),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (incident_id, follower_hash)
);
CREATE INDEX incident_follows_user_idx ON incident_follows (user_id, created_at)
    WHERE user_id IS NOT NULL;

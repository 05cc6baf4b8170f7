-- A phone lists what it follows by its device's hash (accounts' follows carry their account's
-- hash too): the unique (incident_id, follower_hash) index cannot answer "what does this
-- follower follow", this one can, newest first.
CREATE INDEX incident_follows_follower_idx ON incident_follows (follower_hash, created_at);

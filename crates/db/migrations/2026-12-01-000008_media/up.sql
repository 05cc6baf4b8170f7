-- Photos of reports, re-encoded without metadata. The bytes live in the photo store (a local
-- directory or S3-compatible storage) under `storage_key`; this table says what they are, whose
-- they are and whether the public may see them.
CREATE TABLE media (
    id bigserial PRIMARY KEY,
    report_id bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    -- `report`: evidence sent with or after the report; `resolution`: a crew's photo of the
    -- work, shown with every report of the incident.
    kind text NOT NULL CHECK (kind IN ('report', 'resolution')),
    -- Random, never reused: the photo is `<key>.jpg`, its thumbnail `<key>.thumb.jpg`.
    storage_key text NOT NULL UNIQUE CHECK (storage_key ~ '^[0-9a-f]{32}$'),
    content_type text NOT NULL,
    byte_size integer NOT NULL CHECK (byte_size > 0),
    width integer NOT NULL CHECK (width > 0),
    height integer NOT NULL CHECK (height > 0),
    thumbnail_byte_size integer NOT NULL CHECK (thumbnail_byte_size > 0),
    uploaded_by bigint REFERENCES users (id) ON DELETE SET NULL,
    -- A later upload's Idempotency-Key, a digest of what it sent and the photo's place in
    -- it: a retry with the same key answers the photos the first attempt stored.
    upload_key text CHECK (length(upload_key) BETWEEN 1 AND 255),
    upload_fingerprint bytea,
    upload_position smallint,
    hidden_at timestamptz,
    hidden_by bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX media_report_idx ON media (report_id, kind);
CREATE UNIQUE INDEX media_upload_key_idx ON media (report_id, upload_key, upload_position)
    WHERE upload_key IS NOT NULL;

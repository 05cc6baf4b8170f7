-- A gazetteer: the jurisdiction's addresses and intersections with their positions, so that a
-- resident or an Open311 client may give an address instead of a point. Local data only: the
-- server never calls a geocoding service. Keys are normalised by crates/domain/src/gazetteer.rs.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE addresses (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jurisdiction_id bigint NOT NULL REFERENCES jurisdictions (id) ON DELETE CASCADE,
    -- as people read it: "33 Beacon St, Boston, MA 02108"
    label           text NOT NULL CHECK (length(label) BETWEEN 1 AND 300),
    kind            text NOT NULL CHECK (kind IN ('numbered', 'intersection', 'place')),
    -- the normalised street part: "33 beacon st", "c st & w 3rd st"
    street_key      text NOT NULL CHECK (length(street_key) BETWEEN 1 AND 300),
    -- the street without its number, and the house numbers a numbered address covers
    street          text NOT NULL CHECK (length(street) BETWEEN 1 AND 300),
    house_from      integer,
    house_to        integer,
    -- the normalised locality: "s boston"
    locality        text NOT NULL CHECK (length(locality) <= 100),
    -- what similarity search compares
    search_key      text GENERATED ALWAYS AS (street_key || ' ' || locality) STORED,
    location        geography(Point, 4326) NOT NULL,
    -- how many records the position was measured from
    sample_count    integer NOT NULL CHECK (sample_count > 0),
    CHECK ((kind = 'numbered') = (house_from IS NOT NULL AND house_to IS NOT NULL)),
    CHECK (house_from IS NULL OR house_from <= house_to),
    UNIQUE (street_key, locality, jurisdiction_id)
);
-- the most similar addresses first (pg_trgm's word-similarity distance `<->>`, nearest
-- neighbours in GiST): a few ms for any query, where GIN plus a sort read thousands of rows for
-- words as common as "st" or "boston"
CREATE INDEX addresses_search_trgm ON addresses USING gist (search_key gist_trgm_ops);
-- a house number inside a numbered range of a street
CREATE INDEX addresses_street_houses ON addresses (street, house_from) WHERE kind = 'numbered';

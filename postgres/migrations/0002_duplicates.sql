-- A cancelled duplicate report names the case it was merged into; the
-- surviving case lists its duplicates by looking them up here.
ALTER TABLE cases ADD COLUMN duplicate_of uuid;
CREATE INDEX cases_duplicate_of ON cases (duplicate_of) WHERE duplicate_of IS NOT NULL;

-- Case numbers people can say on the phone (2026-000123): each year's
-- sequence is drawn from case_numbers before a case is opened, and the
-- number is recorded in the case's CaseReported event, so the projection
-- rebuilds it from the events. A drawn number is never drawn again, even
-- when its open does not happen: numbers may skip, never repeat. Cases
-- opened before this migration have none.
CREATE TABLE case_numbers (
    year integer PRIMARY KEY CHECK (year BETWEEN 1000 AND 9999),
    last integer NOT NULL
);

ALTER TABLE cases ADD COLUMN number text;
CREATE UNIQUE INDEX cases_number ON cases (number) WHERE number IS NOT NULL;

-- "My reports": an inspector's own cases, newest first.
CREATE INDEX cases_reporter ON cases (reporter, opened_at DESC, id DESC);

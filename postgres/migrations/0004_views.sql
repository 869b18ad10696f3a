-- Reads send each case's view as stored, adding only what depends on the
-- clock, read from stage_deadline, escalate_at and escalation_level (the
-- level the case's events have recorded for its running stage). A row
-- written before this migration has no view yet; reads make it from doc.
ALTER TABLE cases ADD COLUMN escalation_level integer NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN view text;

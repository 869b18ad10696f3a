-- The calendar a running case's deadlines are counted on, beside its
-- clock, so that lists and the board say how late a case is as its page
-- does: in working time on a business calendar (duban.Clock.Late). Kept
-- only while a stage runs (NULL otherwise: nothing is late then).
ALTER TABLE cases ADD COLUMN calendar jsonb;
UPDATE cases SET calendar = doc->'terms'->'calendar' WHERE stage_deadline IS NOT NULL;

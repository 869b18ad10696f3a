-- The escalation board and the overdue/escalated filters read each open
-- case's clock. escalate_at[i] becomes the time the stage reaches level i,
-- the earliest due time of level i and above, so the array never decreases
-- and the level at $now is width_bucket($now, escalate_at): a function call
-- per row rather than a subquery. Rows written before this held each level's
-- own due time, which differs only for a ladder that puts a higher level
-- first; those rows, and only those, are rewritten here.
UPDATE cases SET escalate_at = ARRAY(
    SELECT min(due) OVER (ORDER BY i DESC) FROM unnest(escalate_at) WITH ORDINALITY AS u(due, i) ORDER BY i)
WHERE EXISTS (SELECT FROM generate_subscripts(escalate_at, 1) AS i WHERE escalate_at[i] > escalate_at[i + 1]);

-- The board ranks every overdue case by level and deadline before it reads
-- the first page: this index holds all it ranks on, so that ranking 100,000
-- overdue cases reads the index alone (where the visibility map allows)
-- instead of each case's row.
CREATE INDEX cases_clock ON cases (stage_deadline) INCLUDE (escalation_level, escalate_at, id)
WHERE stage_deadline IS NOT NULL;
DROP INDEX cases_stage_deadline;

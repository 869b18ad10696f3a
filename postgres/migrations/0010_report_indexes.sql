-- Faster scorecards at scale (measured in bench/, the scorecards phase).
--
-- A unit's own scorecard and the cases behind one of its figures read that
-- unit's facts in a period: an index by unit, then time, answers them alone
-- (facts_at serves the scorecards of every unit).
CREATE INDEX facts_unit_at ON facts (unit, at) INCLUDE (kind, late, failed, level, minutes, case_id);

-- The obligations running at a period's end are the stretches whose span
-- (since, until] holds that instant: a range index finds them among those
-- of every year without reading the ones that ended before, or began after.
DROP INDEX stretches_until;
CREATE INDEX stretches_during ON stretches USING gist (tstzrange(least(since, until), until, '(]')) INCLUDE (unit, deadline, suspended);

-- An append is one round trip: the version check, the events and the
-- projection row go to the server in one batch, one implicit transaction.
-- duban_expect_version locks the case's row and refuses the batch if the
-- case is not at the version the writer expects.
CREATE FUNCTION duban_expect_version(case_id uuid, expected integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    current integer;
BEGIN
    SELECT version INTO current FROM cases WHERE id = case_id FOR UPDATE;
    IF coalesce(current, 0) <> expected THEN
        RAISE EXCEPTION 'case % is at version %, not %', case_id, coalesce(current, 0), expected
            USING ERRCODE = 'DB001';
    END IF;
END
$$;

-- The cases merged into a case as duplicates, kept on its row so that a
-- read of the case needs no second query.
ALTER TABLE cases ADD COLUMN duplicates uuid[] NOT NULL DEFAULT '{}';
UPDATE cases AS original SET duplicates = dup.ids
    FROM (SELECT duplicate_of, array_agg(id ORDER BY opened_at, id) AS ids
          FROM cases WHERE duplicate_of IS NOT NULL GROUP BY duplicate_of) AS dup
    WHERE original.id = dup.duplicate_of;

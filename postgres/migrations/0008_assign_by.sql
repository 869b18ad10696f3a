-- A case's deadlines gained assign_by: when a supervisor must dispatch an
-- unrouted or disputed case. Rows written before hold none. Give them its
-- null, written as a fold of their events writes it, so that every row
-- stays the fold of its events (duban projections rebuild --check).
UPDATE cases SET
    doc = jsonb_set(doc, '{deadlines,assign_by}', 'null'::jsonb, true),
    view = replace(view, '"deadlines":{"acknowledge_by":', '"deadlines":{"assign_by":null,"acknowledge_by":')
WHERE NOT (doc -> 'deadlines' ? 'assign_by');

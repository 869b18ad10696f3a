-- An open case's coordinates beside its other columns, so that the map
-- (一张图) reads what it draws of up to 20,000 open cases without each
-- one's whole view (about a kilobyte): kept while the case is open, NULL
-- once it is closed or cancelled, as calendar is kept while a stage runs.
ALTER TABLE cases ADD COLUMN lat double precision, ADD COLUMN lon double precision;
UPDATE cases SET lat = (doc->'location'->>'lat')::double precision, lon = (doc->'location'->>'lon')::double precision
WHERE status NOT IN ('closed', 'cancelled');

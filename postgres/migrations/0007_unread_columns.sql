-- Columns nothing read: the warning's due time (the case's own ladder gives
-- it) and the name of the running stage (each row's view gives it).
ALTER TABLE cases DROP COLUMN warn_at, DROP COLUMN stage;

-- Runs once, when the PostgreSQL volume is first initialised: duban's own
-- database and role, beside Temporal's. duban creates its tables itself.
CREATE ROLE duban LOGIN PASSWORD 'duban';
CREATE DATABASE duban OWNER duban;

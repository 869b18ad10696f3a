#!/bin/sh
# Creates Temporal's two databases on PostgreSQL and brings their schemas up
# to the server's version. Safe to run on every start: creating what exists
# is skipped, and update-schema applies only what is missing.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
port=${DB_PORT:-5432}
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$port" "$@"; }

for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  tool --db "$db" create 2>/dev/null || echo "database $db exists"
  # setup-schema -v 0.0 creates the version table; it fails harmlessly when
  # the schema is already there.
  tool --db "$db" setup-schema -v 0.0 2>/dev/null || echo "schema of $db exists"
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo "Temporal schema is up to date"

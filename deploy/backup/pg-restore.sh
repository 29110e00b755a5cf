#!/usr/bin/env bash
# Restore a pg-backup.sh archive into an EMPTY database: pg-restore.sh <archive> <target database URL>.
# Stop web, workers and beat first; afterwards run the release step (migrate) and start them again.
set -euo pipefail
archive="${1:?usage: pg-restore.sh <archive.dump> <postgres://user@host:port/empty_db>}"
target="${2:?usage: pg-restore.sh <archive.dump> <postgres://user@host:port/empty_db>}"
pg_restore --exit-on-error --no-owner --no-privileges --single-transaction --dbname="$target" "$archive"
echo "restored $archive into the target database"

#!/usr/bin/env bash
# Logical backup of the portal's database: one pg_dump archive (custom format: compressed, restorable table by
# table), checked readable, kept BACKUP_KEEP_DAYS days. Nightly from billing-portal-backup.timer. Prints its path.
# Point-in-time recovery needs WAL archiving as well (deploy/postgresql/wal-archiving.conf, docs/deploy.md).
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL must name the database (postgres://user@host:port/name)}"
backup_dir="${BACKUP_DIR:-/var/backups/billing-portal}"
keep_days="${BACKUP_KEEP_DAYS:-14}"
mkdir -p "$backup_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$backup_dir/billing_portal-$stamp.dump"
pg_dump --format=custom --no-owner --no-privileges --file="$out.partial" "$DATABASE_URL"
pg_restore --list "$out.partial" >/dev/null  # the archive reads back
mv "$out.partial" "$out"
find "$backup_dir" -name 'billing_portal-*.dump' -mtime +"$keep_days" -delete
echo "$out"

#!/bin/sh
# The broken twin of migrate.sh: its scratch copy of a DB is `cp peek.db` alone, the -wal
# forgotten. A slip of shell style ("copy the database file"): every check then runs on a
# copy without the rows that sit only in peek.db-wal, the backup and the new DB lack them
# too, and peek.db and its -wal are removed. The kit reports it under R1 (the new DB does
# not hold the old content). The twin runs migrate.sh itself with that one line changed
# (read, changed and run in memory: it writes no file of its own).
here=$(cd "$(dirname "$0")" && pwd -P) || exit 2
script=$(sed 's|cp "$1-wal" "$_dir/db-wal" [|][|] return 1|:|' "$here/migrate.sh") || exit 2
case $script in
*'"$_dir/db-wal"'*) echo "wal_forgotten.sh: migrate.sh changed; update the twin" >&2; exit 2 ;;
esac
exec sh -c "$script" migrate.sh "$@"

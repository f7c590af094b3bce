#!/bin/sh
# A profiles migration for the Peek server, written as a POSIX shell script from SPEC and
# peek-facts alone: one of the kit's corpus migrators (correct, in a style of its own).
#
# Each step is a child process: cp, mv, rm, sync, and one sqlite3 per database step.
# SQLite never opens a file of DATA_DIR except system.db: a user's peek.db and its -wal are
# copied raw into a mktemp -d scratch folder, and every check runs on that copy.
#
#   1. .migration.lock in DATA_DIR, held with flock for the whole run (not for dry runs);
#   2. per user: raw copy -> integrity_check -> `.backup` into one clean file (the rows of
#      the -wal folded in) -> its .dump compared with the raw copy's;
#   3. the backup beside peek.db: temp name, sync, cmp, mv, sync of the folder;
#   4. the new DB and the images (each checked with cmp) staged in profiles/.staging-*,
#      synced, the profile row written, then the staging folder renamed to profiles/default;
#   5. only then peek.db (first), its sidecars and the old images are removed.
# A re-run resumes what a killed one left. Errors go to stderr as "error: user U: ...";
# the exit status is 1 when any user failed.
#
# Environment: DATA_DIR (or $1), MIGRATION_DRY_RUN, MIGRATION_BACKUP_GRACE_DAYS.

set -u
umask 022

DATA_DIR=${DATA_DIR:-${1:-./data}}
DATA_DIR=$(cd "$DATA_DIR" 2>/dev/null && pwd -P) || {
    echo "error: DATA_DIR is not a folder" >&2
    exit 2
}
case ${MIGRATION_DRY_RUN:-} in
    1 | true | TRUE | True | yes) DRY=1 ;;
    *) DRY=0 ;;
esac
GRACE_DAYS=${MIGRATION_BACKUP_GRACE_DAYS:-30}
STARTED=$(date +%s)
SYSTEM_DB=$DATA_DIR/system.db
BACKUP_NAME=peek.db.pre-migration-backup
MARGIN_KB=1024

say() { printf '%s\n' "$*"; }
err() { printf 'error: user %s: %s\n' "$1" "$2" >&2; }
# why REASON: why the current user failed (fd 3 is the user's reason file).
why() { printf '%s\n' "$*" >&3; }

sq() { sqlite3 -batch -bail -init /dev/null "$@"; }

# SQL string literal of $1 (single quotes doubled).
sql_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }

# --- scratch space and the lock --------------------------------------------------------------

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/peek-sh-migrate.XXXXXX") || {
    echo "error: cannot create a scratch folder" >&2
    exit 2
}
trap 'rm -rf "$SCRATCH"' EXIT
trap 'exit 130' INT TERM

if [ "$DRY" = 0 ]; then
    exec 9>>"$DATA_DIR/.migration.lock" || exit 2
    flock 9 || exit 2
fi

# --- reading databases through scratch copies ------------------------------------------------

# raw_copy DB -> prints the path of a byte copy of DB (and its -wal) in a new scratch folder.
raw_copy() {
    _dir=$(mktemp -d "$SCRATCH/raw.XXXXXX") || return 1
    cp "$1" "$_dir/db" || return 1
    if [ -f "$1-wal" ]; then
        cp "$1-wal" "$_dir/db-wal" || return 1
    fi
    printf '%s\n' "$_dir/db"
}

# check_db COPY: a sound SQLite database with at least one table.
check_db() {
    _res=$(sq "$1" 'PRAGMA integrity_check;' 2>&1) || {
        why "unreadable database: $_res"
        return 1
    }
    if [ "$_res" != ok ]; then
        why "integrity_check: $_res"
        return 1
    fi
    _n=$(sq "$1" "SELECT count(*) FROM sqlite_master WHERE type='table';" 2>&1) || {
        why "unreadable database: $_n"
        return 1
    }
    if [ "$_n" = 0 ]; then
        why "the database has no tables"
        return 1
    fi
}

# content COPY: the checksum of the logical content (schema and every row, in key order).
content() {
    sq -readonly "$1" .dump | sha256sum | cut -d' ' -f1
}

# content_of DB -> checksum of DB's content (with its -wal), read from a scratch copy.
content_of() {
    _copy=$(raw_copy "$1") || return 1
    check_db "$_copy" >/dev/null || return 1
    content "$_copy"
}

# clean_copy DB -> sets CLEAN (one verified file, -wal rows folded in) and CONTENT.
# On failure prints the reason.
clean_copy() {
    _src=$(raw_copy "$1") || {
        why "cannot copy peek.db to scratch"
        return 1
    }
    check_db "$_src" || return 1
    _dst=$(mktemp -d "$SCRATCH/clean.XXXXXX")/datastore.sqlite || return 1
    sq "$_src" ".backup '$_dst'" >/dev/null 2>&1 || {
        why "sqlite3 .backup failed"
        return 1
    }
    sq "$_dst" 'PRAGMA journal_mode=DELETE;' >/dev/null 2>&1 || {
        why "cannot set the copy's journal mode"
        return 1
    }
    check_db "$_dst" || return 1
    _want=$(content "$_src") && _got=$(content "$_dst") || {
        why "cannot read the copy back"
        return 1
    }
    if [ -z "$_want" ] || [ "$_want" != "$_got" ]; then
        why "the copy's rows differ from the original's"
        return 1
    fi
    CLEAN=$_dst
    CONTENT=$_want
}

# --- system.db -------------------------------------------------------------------------------

registered_users() {
    : >"$SCRATCH/users"
    [ -f "$SYSTEM_DB" ] || return 0
    _copy=$(raw_copy "$SYSTEM_DB") || return 1
    sq "$_copy" 'SELECT id FROM users;' >"$SCRATCH/users"
}

is_registered() { grep -Fqx -- "$1" "$SCRATCH/users"; }

has_profile() {
    _q=$(sql_quote "$1")
    _n=$(sq "$SYSTEM_DB" "PRAGMA busy_timeout=30000;
        SELECT count(*) FROM sqlite_master WHERE type='table' AND name='profiles';") || return 1
    case $_n in *0) return 1 ;; esac
    _n=$(sq "$SYSTEM_DB" "PRAGMA busy_timeout=30000;
        SELECT count(*) FROM profiles WHERE user_id=$_q AND slug='default';") || return 1
    case $_n in *1) return 0 ;; esac
    return 1
}

ensure_profile() {
    has_profile "$1" && return 0
    _q=$(sql_quote "$1")
    sq "$SYSTEM_DB" >/dev/null <<EOF || return 1
PRAGMA busy_timeout=30000;
PRAGMA foreign_keys=ON;
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS profiles (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  UNIQUE(user_id, slug)
);
INSERT OR IGNORE INTO profiles (id, user_id, slug, name, created_at, last_used_at)
  SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
               substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) ||
               '-' || hex(randomblob(6))),
         $_q, 'default', 'Default',
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
COMMIT;
EOF
    say "profile created for $1"
}

# --- durable file steps ----------------------------------------------------------------------

# put_durably SRC DST: DST becomes a synced, verified copy of SRC (temp name, then mv).
put_durably() {
    _part=$(mktemp "$(dirname "$2")/.$(basename "$2").XXXXXX") || return 1
    if cp "$1" "$_part" && sync "$_part" && cmp -s "$1" "$_part" && mv -f "$_part" "$2"; then
        return 0
    fi
    rm -f "$_part"
    return 1
}

# The old images of user folder $1, one per line (regular files only, never symlinks).
old_images() {
    [ -d "$1/images" ] && [ ! -L "$1/images" ] || return 0
    for _img in "$1/images"/* "$1/images"/.[!.]* "$1/images"/..?*; do
        [ -f "$_img" ] && [ ! -L "$_img" ] && printf '%s\n' "$_img"
    done
    return 0
}

# move_images ROOT: every old image ends in the new folder (byte-identical), then the old
# folder goes.
move_images() {
    _root=$1
    _new=$_root/profiles/default/images
    _list=$SCRATCH/images.list
    old_images "$_root" >"$_list" || return 1
    if [ -s "$_list" ]; then
        [ -d "$_new" ] || mkdir "$_new" || return 1
        while IFS= read -r _img; do
            _dst=$_new/${_img##*/}
            if [ -f "$_dst" ] && cmp -s "$_img" "$_dst"; then
                continue
            fi
            put_durably "$_img" "$_dst" || return 1
        done <"$_list"
        sync "$_new" "$_root/profiles/default" || return 1
        while IFS= read -r _img; do
            rm -f "$_img" || return 1
        done <"$_list"
    fi
    if [ -d "$_root/images" ] && [ ! -L "$_root/images" ]; then
        # Anything but a regular file (a symlink, a folder) stays, and so does the folder;
        # an empty folder that cannot be removed is a failure (the user is not finished).
        if [ -n "$(ls -A "$_root/images")" ]; then
            return 0
        fi
        rmdir "$_root/images" && sync "$_root" || return 1
    fi
    return 0
}

# retire_old ROOT: peek.db first (a -wal without its DB is a leftover; a DB without its -wal
# would be a lie), then its sidecars, then the images now in the new folder.
retire_old() {
    rm -f "$1/peek.db" || return 1
    sync "$1" || return 1
    rm -f "$1/peek.db-wal" "$1/peek.db-shm" "$1/peek.db-journal" || return 1
    sync "$1" || return 1
    move_images "$1"
}

# write_backup ROOT: a verified backup beside peek.db; BACKUP_MADE=1 when written now.
write_backup() {
    BACKUP_MADE=0
    _bk=$1/$BACKUP_NAME
    if [ -f "$_bk" ]; then
        _have=$(content_of "$_bk" 2>/dev/null) || _have=
        [ "$_have" = "$CONTENT" ] && return 0
        say "replacing an unverifiable backup of ${1##*/}"
    fi
    put_durably "$CLEAN" "$_bk" || return 1
    BACKUP_MADE=1
    sync "$1"
}

# stage ROOT -> prints a synced profiles/.staging-* folder holding the new DB and images.
stage() {
    _st=$(mktemp -d "$1/profiles/.staging-XXXXXX") || return 1
    if cp "$CLEAN" "$_st/datastore.sqlite" && cmp -s "$CLEAN" "$_st/datastore.sqlite" &&
        stage_images "$1" "$_st" && sync "$_st/datastore.sqlite" "$_st"; then
        printf '%s\n' "$_st"
        return 0
    fi
    rm -rf "$_st"
    return 1
}

stage_images() {
    old_images "$1" >"$SCRATCH/stage.list" || return 1
    [ -s "$SCRATCH/stage.list" ] || return 0
    mkdir "$2/images" || return 1
    while IFS= read -r _img; do
        _dst=$2/images/${_img##*/}
        cp "$_img" "$_dst" && cmp -s "$_img" "$_dst" && sync "$_dst" || return 1
    done <"$SCRATCH/stage.list"
    sync "$2/images"
}

# Leftovers of a killed run of ours: half-written backups, images, staging folders.
remove_leftovers() {
    _root=$1
    _changed=0
    for _f in "$_root/.$BACKUP_NAME".??????; do
        [ -f "$_f" ] && [ ! -L "$_f" ] && { rm -f "$_f" || return 1; } && _changed=1
    done
    [ "$_changed" = 1 ] && { sync "$_root" || return 1; }
    _changed=0
    for _f in "$_root/profiles/.staging-"??????; do
        [ -d "$_f" ] && [ ! -L "$_f" ] && { rm -rf "$_f" || return 1; } && _changed=1
    done
    [ "$_changed" = 1 ] && { sync "$_root/profiles" || return 1; }
    _changed=0
    for _f in "$_root/profiles/default/images/".*.??????; do
        [ -f "$_f" ] && [ ! -L "$_f" ] && { rm -f "$_f" || return 1; } && _changed=1
    done
    [ "$_changed" = 1 ] && { sync "$_root/profiles/default/images" || return 1; }
    return 0
}

free_kb() { df -Pk "$1" | awk 'NR == 2 { print $4 }'; }
size_kb() { du -sk "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }

# --- one user --------------------------------------------------------------------------------

# migrate_user NAME: 0 when migrated or skipped; 1 (reason on stdout) when it failed.
migrate_user() {
    user=$1
    root=$DATA_DIR/$user
    old=$root/peek.db
    new=$root/profiles/default/datastore.sqlite
    has_old=0
    has_new=0
    [ -f "$old" ] && has_old=1
    [ -f "$new" ] && has_new=1

    if [ $has_old = 0 ] && [ $has_new = 0 ]; then
        if [ -e "$root/$BACKUP_NAME" ]; then
            why "only the pre-migration backup is left: a person must restore it"
            return 1
        fi
        say "skip $user: no database"
        return 0
    fi

    if [ "$DRY" = 1 ]; then
        if [ $has_old = 1 ] && [ $has_new = 1 ]; then
            a=$(content_of "$old") || { why "peek.db is unreadable"; return 1; }
            b=$(content_of "$new") || b=
            if [ "$a" = "$b" ]; then
                say "dry run: would finish the migration of $user"
            else
                say "dry run: would refuse $user: peek.db and the new DB differ"
            fi
        elif [ $has_old = 1 ]; then
            content_of "$old" >/dev/null || { why "peek.db fails integrity_check"; return 1; }
            say "dry run: would migrate $user"
        else
            say "dry run: $user is already migrated"
        fi
        return 0
    fi

    remove_leftovers "$root" || { why "cannot remove a previous run's leftovers"; return 1; }

    if [ $has_old = 1 ] && [ $has_new = 1 ]; then
        clean_copy "$old" || return 1
        b=$(content_of "$new") || b=
        if [ "$b" != "$CONTENT" ]; then
            why "peek.db and profiles/default/datastore.sqlite differ: a person must choose"
            return 1
        fi
        write_backup "$root" || { why "cannot write the backup"; return 1; }
        ensure_profile "$user" || { why "cannot write the profile row"; return 1; }
        retire_old "$root" || { why "cannot remove the old files"; return 1; }
        say "migrated $user (finished an interrupted migration)"
        return 0
    fi

    if [ $has_new = 1 ]; then
        ensure_profile "$user" || { why "cannot write the profile row"; return 1; }
        if [ -e "$old-wal" ] || [ -e "$old-shm" ] || [ -e "$old-journal" ]; then
            rm -f "$old-wal" "$old-shm" "$old-journal" && sync "$root" ||
                { why "cannot remove peek.db's sidecars"; return 1; }
        fi
        move_images "$root" || { why "cannot move the images"; return 1; }
        say "skip $user: already migrated"
        return 0
    fi

    clean_copy "$old" || return 1
    if [ -e "$root/profiles/default" ] || [ -L "$root/profiles/default" ]; then
        if ! rmdir "$root/profiles/default" 2>/dev/null; then
            why "profiles/default exists without a datastore: a person must look"
            return 1
        fi
    fi
    need=$(($(size_kb "$CLEAN") * 2 + $(size_kb "$root/images") + MARGIN_KB))
    have=$(free_kb "$root") || have=0
    if [ "$have" -lt "$need" ]; then
        why "not enough free space: ${need} KiB needed, ${have} KiB free"
        return 1
    fi
    made_profiles=0
    if [ ! -d "$root/profiles" ]; then
        mkdir "$root/profiles" && made_profiles=1 && sync "$root" || {
            rollback
            why "cannot create profiles/"
            return 1
        }
    fi
    BACKUP_MADE=0
    write_backup "$root" || { rollback; why "cannot write the backup"; return 1; }
    staging=$(stage "$root") || { rollback; why "cannot copy into profiles/"; return 1; }
    ensure_profile "$user" || {
        rm -rf "$staging"
        rollback
        why "cannot write the profile row"
        return 1
    }
    mv -T "$staging" "$root/profiles/default" || {
        rm -rf "$staging"
        rollback
        why "cannot rename the new profile folder into place"
        return 1
    }
    sync "$root/profiles" || { why "cannot sync profiles/"; return 1; }
    retire_old "$root" || { why "cannot remove the old files"; return 1; }
    say "migrated $user"
}

# Undo what this run made for a user still on peek.db (its backup, an empty profiles/).
rollback() {
    if [ "$BACKUP_MADE" = 1 ]; then
        rm -f "$root/$BACKUP_NAME" && sync "$root"
    fi
    if [ "${made_profiles:-0}" = 1 ]; then
        rmdir "$root/profiles" 2>/dev/null && sync "$root"
    fi
    return 0
}

fully_migrated() {
    [ ! -e "$1/peek.db" ] && [ ! -e "$1/peek.db-wal" ] && [ ! -e "$1/peek.db-shm" ] &&
        [ -f "$1/profiles/default/datastore.sqlite" ] && [ -z "$(old_images "$1")" ] &&
        has_profile "$2"
}

# A backup past its grace period goes, only for a user with nothing left to migrate.
clean_up_backup() {
    _bk=$1/$BACKUP_NAME
    [ -f "$_bk" ] && [ ! -L "$_bk" ] || return 0
    fully_migrated "$1" "$2" || return 0
    _mtime=$(stat -c %Y "$_bk") || return 1
    if awk -v now="$STARTED" -v m="$_mtime" -v g="$GRACE_DAYS" \
        'BEGIN { exit !((now - m) / 86400 > g + 0) }'; then
        rm -f "$_bk" && sync "$1" || return 1
        say "deleted the backup of $2 (older than $GRACE_DAYS days)"
    fi
    return 0
}

# --- the run ---------------------------------------------------------------------------------

registered_users || {
    echo "error: cannot read the users of system.db" >&2
    exit 1
}

failed=
for entry in "$DATA_DIR"/*; do
    [ -L "$entry" ] && continue
    [ -d "$entry" ] || continue
    name=${entry##*/}
    [ "$name" = backups ] && continue
    if ! is_registered "$name"; then
        if [ -e "$entry/peek.db" ]; then
            err "$name" "no users row in system.db: left untouched"
            failed="$failed $name"
        fi
        continue
    fi
    if (migrate_user "$name") 3>"$SCRATCH/reason"; then
        if [ "$DRY" = 0 ] && ! clean_up_backup "$entry" "$name"; then
            err "$name" "cannot delete the expired backup"
            failed="$failed $name"
        fi
    else
        reason=$(tr '\n' ';' <"$SCRATCH/reason")
        err "$name" "${reason:-failed}"
        failed="$failed $name"
    fi
done

if [ -n "$failed" ]; then
    echo "error: migration failed for:$failed" >&2
    exit 1
fi
say "done"
exit 0

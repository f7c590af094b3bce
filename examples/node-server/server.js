'use strict';
// A small server whose start-up runs the profiles migration (the seed's, done carefully), then
// listens: the kind of program `migration-kit ... --migrator 'serve:node server.js'` judges.
// See README.md. Environment: DATA_DIR, PORT (127.0.0.1 only), MIGRATION_DRY_RUN=true,
// MIGRATION_BACKUP_GRACE_DAYS (default 30). Per-user errors go to stderr as
// "[migration] <user>: error: ...", and "[server] ready on http://127.0.0.1:<port>" is printed
// once it listens.
//
// Per legacy user (peek.db, maybe with peek.db-wal), in an order where every crash leaves the
// rows in peek.db or in a verified new DB (plus a verified backup), so the next start finishes:
//   1. copy peek.db and its -wal into a private scratch dir (never open the original), check
//      the copy's integrity and checkpoint it, so the -wal rows are in one file;
//   2. the backup peek.db.pre-migration-backup: kept if it already holds that content, else
//      written to a temporary name, fsynced, renamed, directory fsynced;
//   3. the new profiles/default/datastore.sqlite the same way (copied, never renamed across
//      folders, so profiles/ may be another filesystem), verified by content;
//   4. the profile row in system.db; 5. images/ moved (rename, or copy-verify-remove on EXDEV);
//   6. only then peek.db and its sidecars removed (its -wal folded into it first).
// A peek.db beside a new DB is finished only when the new DB holds exactly its content.
// The whole run holds system.db's write lock, so two servers started together take turns.
//
// Then, before it listens, the daily backup (not in a dry run): every user with a profile row
// gets their datastore copied to BACKUP_DIR/<date>/<user>.sqlite (without BACKUP_DIR it only
// checks the datastore is where the app reads it). A user whose datastore is not found is
// warned about on stderr: "[backup] No database found for user alice, skipping backup".
// BACKUP_READS_OLD_PATH=1 is the Peek server's defect after the seed's migration: its backup
// still looks for <user>/peek.db, so every migrated user is skipped on every start. The
// migration itself is unchanged, so only the app after the move shows it (the kit's
// --after-check, R18; see README.md).

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const Database = require('better-sqlite3');

const DATA_DIR = path.resolve(process.env.DATA_DIR || './data');
const PORT = Number(process.env.PORT || 3000);
const DRY_RUN = ['true', '1', 'yes'].includes((process.env.MIGRATION_DRY_RUN || '').trim().toLowerCase());
const GRACE_DAYS = process.env.MIGRATION_BACKUP_GRACE_DAYS ? Number(process.env.MIGRATION_BACKUP_GRACE_DAYS) : 30;
const OLD_DB = 'peek.db';
const SIDECARS = ['-wal', '-shm', '-journal'];
const BACKUP = 'peek.db.pre-migration-backup';
const TEMP = '.migrating';
const DAY_MS = 24 * 60 * 60 * 1000;
const BACKUP_DIR = process.env.BACKUP_DIR ? path.resolve(process.env.BACKUP_DIR) : null;
const BACKUP_READS_OLD_PATH = process.env.BACKUP_READS_OLD_PATH === '1';

const log = (message) => console.log(`[migration] ${message}`);
const fail = (user, message) => console.error(`[migration] ${user}: error: ${message}`);

function exists(p) {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    if (err.code === 'ENOENT') return false;
    throw err;
  }
}

function fsyncPath(p) {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// Copy src to dest durably: a temporary name in dest's folder, fsynced, renamed, folder fsynced.
// On any failure (a full disk, say) the temporary file goes: no partial file is left behind.
function durableCopy(src, dest) {
  const temp = dest + TEMP;
  fs.rmSync(temp, { force: true });
  try {
    fs.copyFileSync(src, temp);
    fsyncPath(temp);
    fs.renameSync(temp, dest);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  fsyncPath(path.dirname(dest));
}

function mkdirDurable(dir) {
  if (exists(dir)) return;
  mkdirDurable(path.dirname(dir));
  fs.mkdirSync(dir);
  fsyncPath(path.dirname(dir));
}

// A private copy of a database and its -wal, checkpointed into one file: [path, cleanup].
// The original is only read, so a corrupt or busy database is never changed here.
// An empty or truncated file opens as a valid empty database: refused by its header here.
function stagedCopy(dir, name, wal = path.join(dir, name + '-wal')) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'peek-migration-'));
  const copy = path.join(scratch, name);
  fs.copyFileSync(path.join(dir, name), copy);
  if (exists(wal)) fs.copyFileSync(wal, copy + '-wal');
  const header = Buffer.alloc(16);
  const fd = fs.openSync(copy, 'r');
  const got = fs.readSync(fd, header, 0, 16, 0);
  fs.closeSync(fd);
  if (got < 16 || header.toString('latin1') !== 'SQLite format 3\0') {
    fs.rmSync(scratch, { recursive: true, force: true });
    throw new Error(`${name} is not a SQLite database (empty, truncated or a bad header)`);
  }
  const db = new Database(copy);
  try {
    const check = db.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${check}`);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
  fsyncPath(copy);
  return [copy, () => fs.rmSync(scratch, { recursive: true, force: true })];
}

// The logical content of a database file (every row of every table), as a digest.
function contentDigest(file) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hash = crypto.createHash('sha256');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    for (const table of tables) {
      hash.update(`\0table ${table}\0`);
      const rows = db.prepare(`SELECT * FROM "${table.replace(/"/g, '""')}"`).raw().safeIntegers();
      for (const row of rows.iterate()) {
        hash.update(JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
        hash.update('\n');
      }
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

// The digest of a database that may be busy or in WAL mode, read through a private copy.
function digestOf(dir, name, wal = undefined) {
  try {
    const [copy, cleanup] = stagedCopy(dir, name, wal);
    try {
      return contentDigest(copy);
    } finally {
      cleanup();
    }
  } catch (err) {
    return `unreadable: ${err.message}`;
  }
}

// Sidecars of a peek.db removed by an interrupted run: deleted when the -wal adds nothing to
// the new DB (it was checkpointed into it), reported otherwise.
function removeStraySidecars(user, userDir, profileDir) {
  const wal = path.join(userDir, OLD_DB + '-wal');
  if (exists(wal) && fs.statSync(wal).size > 0) {
    const alone = digestOf(profileDir, 'datastore.sqlite', path.join(profileDir, 'no-such-wal'));
    if (digestOf(profileDir, 'datastore.sqlite', wal) !== alone) {
      throw new Error('peek.db-wal is left without peek.db and holds rows the new DB lacks: left as it is');
    }
  }
  let removed = false;
  for (const s of SIDECARS) {
    if (exists(path.join(userDir, OLD_DB + s))) {
      fs.rmSync(path.join(userDir, OLD_DB + s));
      removed = true;
    }
  }
  if (removed) fsyncPath(userDir);
}

// A backup's grace period counts from the migration: an old backup kept by a resumed
// migration would otherwise go at the very next start.
function restartGrace(userDir) {
  const backup = path.join(userDir, BACKUP);
  if (!exists(backup)) return;
  const now = new Date();
  fs.utimesSync(backup, now, now);
  fsyncPath(backup);
}

// By now peek.db's content is in the verified backup and new DB. Its -wal is folded into it
// first (the one time the original is opened: a checkpoint, then closing the last connection
// deletes the -wal and -shm), so no unlink below leaves a -wal with rows beside no peek.db:
// a kill between two unlinks would strand the user, since a -wal cannot be checked alone.
function removeOld(userDir) {
  const old = path.join(userDir, OLD_DB);
  if (exists(old + '-wal')) {
    const db = new Database(old, { fileMustExist: true });
    try {
      const [done] = db.pragma('wal_checkpoint(TRUNCATE)');
      if (done.busy) throw new Error('peek.db is in use (its -wal could not be folded in): left as it is');
    } finally {
      db.close();
    }
    if (exists(old + '-wal') && fs.statSync(old + '-wal').size > 0) {
      throw new Error('peek.db-wal is still there after folding it in: left as it is');
    }
  }
  fs.rmSync(old, { force: true });
  for (const s of SIDECARS) fs.rmSync(path.join(userDir, OLD_DB + s), { force: true });
  fsyncPath(userDir);
}

// Move images/ into the profile: one rename, or (another filesystem, or a merge after an
// interrupted run) file by file: copy, fsync, then remove the source.
function moveImages(userDir, profileDir) {
  const from = path.join(userDir, 'images');
  const to = path.join(profileDir, 'images');
  if (!exists(from)) return;
  if (fs.lstatSync(from).isSymbolicLink()) throw new Error('images/ is a symlink: not followed');
  if (!exists(to)) {
    try {
      fs.renameSync(from, to);
      fsyncPath(profileDir);
      fsyncPath(userDir);
      return;
    } catch (err) {
      if (err.code !== 'EXDEV') throw err;
    }
    mkdirDurable(to);
  }
  for (const name of fs.readdirSync(from)) {
    const src = path.join(from, name);
    const dest = path.join(to, name);
    if (!fs.lstatSync(src).isFile()) continue;
    if (!exists(dest) || !fs.readFileSync(src).equals(fs.readFileSync(dest))) durableCopy(src, dest);
  }
  for (const name of fs.readdirSync(from)) fs.rmSync(path.join(from, name), { force: true });
  fs.rmdirSync(from);
  fsyncPath(userDir);
}

function freeBytes(dir) {
  const stats = fs.statfsSync(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}

function migrateUser(user, userDir, system) {
  const profileDir = path.join(userDir, 'profiles', 'default');
  const newDb = path.join(profileDir, 'datastore.sqlite');
  for (const leftover of [path.join(userDir, BACKUP + TEMP), newDb + TEMP]) fs.rmSync(leftover, { force: true });
  const hasOld = exists(path.join(userDir, OLD_DB));
  const hasNew = exists(newDb);
  if (!hasOld && !hasNew) return 'nothing to migrate';
  if (!system.hasUser(user)) throw new Error('no users row in system.db: left as it is');
  if (!hasOld) {
    removeStraySidecars(user, userDir, profileDir);
    if (system.ensureProfile(user)) system.profiled.add(user);
    moveImages(userDir, profileDir);
    return 'already migrated';
  }
  const size = fs.statSync(path.join(userDir, OLD_DB)).size + (exists(path.join(userDir, OLD_DB + '-wal')) ? fs.statSync(path.join(userDir, OLD_DB + '-wal')).size : 0);
  if (freeBytes(userDir) < 3 * size + (1 << 20)) throw new Error(`not enough free space for ${size} bytes (three copies): left as it is`);
  const [copy, cleanup] = stagedCopy(userDir, OLD_DB);
  try {
    const digest = contentDigest(copy);
    if (hasNew && digestOf(profileDir, 'datastore.sqlite') !== digest) {
      throw new Error('peek.db and profiles/default/datastore.sqlite both exist and differ: left as they are');
    }
    const backup = path.join(userDir, BACKUP);
    if (!exists(backup) || digestOf(userDir, BACKUP) !== digest) durableCopy(copy, backup);
    else restartGrace(userDir);
    if (!hasNew) {
      mkdirDurable(profileDir);
      durableCopy(copy, newDb);
      if (contentDigest(newDb) !== digest) throw new Error('the new database does not hold the old content');
    }
  } finally {
    cleanup();
  }
  if (system.ensureProfile(user)) system.profiled.add(user);
  moveImages(userDir, profileDir);
  removeOld(userDir);
  return 'migrated';
}

// system.db: read through a copy for a dry run; otherwise opened in place with its write lock
// held for the whole run (BEGIN IMMEDIATE), so that a second server waits its turn.
function openSystem() {
  const file = path.join(DATA_DIR, 'system.db');
  if (DRY_RUN) {
    const [copy, cleanup] = stagedCopy(DATA_DIR, 'system.db');
    const db = new Database(copy, { readonly: true });
    const users = new Set(db.prepare('SELECT id FROM users').pluck().all());
    db.close();
    cleanup();
    return { hasUser: (u) => users.has(u), ensureProfile: () => false, finish: () => {} };
  }
  const db = new Database(file, { fileMustExist: true, timeout: 120000 });
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = FULL');
  db.exec('BEGIN IMMEDIATE');
  const users = new Set(db.prepare('SELECT id FROM users').pluck().all());
  let tableReady = false;
  return {
    hasUser: (u) => users.has(u),
    ensureProfile(user) {
      const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'profiles'").get();
      if (table && db.prepare("SELECT 1 FROM profiles WHERE user_id = ? AND slug = 'default'").get(user)) return false;
      if (!table && !tableReady) {
        db.exec(`CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,
          slug TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT NOT NULL,
          UNIQUE(user_id, slug), FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE);
          CREATE INDEX IF NOT EXISTS idx_profiles_user_id ON profiles(user_id);`);
        tableReady = true;
      }
      const now = new Date().toISOString();
      db.prepare("INSERT INTO profiles VALUES (?, ?, 'default', 'Default', ?, ?)").run(crypto.randomUUID(), user, now, now);
      return true;
    },
    finish() {
      if (db.inTransaction) db.exec('COMMIT');
      db.close();
    },
  };
}

function candidates() {
  return fs
    .readdirSync(DATA_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.isSymbolicLink() && !e.name.startsWith('.') && e.name !== 'backups')
    .map((e) => e.name)
    .sort();
}

// A backup is removed after the grace period, only for a fully migrated user.
function cleanupBackup(user, userDir) {
  const backup = path.join(userDir, BACKUP);
  if (!exists(backup)) return;
  const ageDays = (Date.now() - fs.statSync(backup).mtimeMs) / DAY_MS;
  if (ageDays <= GRACE_DAYS) return;
  if (DRY_RUN) {
    log(`[dry run] would remove ${user}'s backup (${ageDays.toFixed(0)} days old)`);
    return;
  }
  fs.rmSync(backup);
  fsyncPath(userDir);
  log(`${user}: removed the backup (${ageDays.toFixed(0)} days old)`);
}

function fullyMigrated(userDir, system, user) {
  return (
    !exists(path.join(userDir, OLD_DB)) &&
    !exists(path.join(userDir, 'images')) &&
    exists(path.join(userDir, 'profiles', 'default', 'datastore.sqlite')) &&
    system.hasProfile(user)
  );
}

function migrate() {
  const system = openSystem();
  const profiled = new Set();
  const readProfiles = () => {
    try {
      const [copy, cleanup] = stagedCopy(DATA_DIR, 'system.db');
      const db = new Database(copy, { readonly: true });
      try {
        for (const u of db.prepare("SELECT user_id FROM profiles WHERE slug = 'default'").pluck().all()) profiled.add(u);
      } catch (err) {
        // no profiles table yet
      } finally {
        db.close();
        cleanup();
      }
    } catch (err) {
      // no system.db copy: no profiles
    }
  };
  readProfiles();
  system.profiled = profiled;
  system.hasProfile = (u) => profiled.has(u);
  let failed = 0;
  try {
    for (const user of candidates()) {
      const userDir = path.join(DATA_DIR, user);
      try {
        let outcome = 'dry run';
        if (DRY_RUN) {
          if (exists(path.join(userDir, OLD_DB))) log(`[dry run] would migrate ${user}`);
        } else {
          outcome = migrateUser(user, userDir, system);
          log(`${user}: ${outcome}`);
        }
        // Judged after this run's own steps, except for a user whose data moved just now.
        if (outcome !== 'migrated' && fullyMigrated(userDir, system, user)) cleanupBackup(user, userDir);
      } catch (err) {
        failed += 1;
        fail(user, err.message);
      }
    }
  } finally {
    system.finish();
  }
  log(failed ? `done: ${failed} user(s) failed` : 'done: every user migrated or skipped');
  return profiled;
}

// The daily backup of every user with a profile row (see the top of this file). It reads the
// datastore where the app reads it; a copy, never an open, so the tree gets no sidecar.
function dailyBackup(profiled) {
  const day = new Date().toISOString().slice(0, 10);
  for (const user of candidates().filter((u) => profiled.has(u))) {
    const userDir = path.join(DATA_DIR, user);
    const db = BACKUP_READS_OLD_PATH ? path.join(userDir, OLD_DB) : path.join(userDir, 'profiles', 'default', 'datastore.sqlite');
    try {
      if (!exists(db)) {
        console.warn(`[backup] No database found for user ${user}, skipping backup`);
        continue;
      }
      if (!BACKUP_DIR) {
        console.log(`[backup] ${user}: ${path.relative(DATA_DIR, db)} found (set BACKUP_DIR to keep daily copies)`);
        continue;
      }
      const dest = path.join(BACKUP_DIR, day, `${user}.sqlite`);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(db, dest);
      console.log(`[backup] ${user}: backed up to ${dest}`);
    } catch (err) {
      console.error(`[backup] ${user}: error: ${err.message}`);
    }
  }
}

if (fs.existsSync(DATA_DIR)) {
  const profiled = migrate();
  if (!DRY_RUN) dailyBackup(profiled);
}

http
  .createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
  })
  .listen(PORT, '127.0.0.1', () => console.log(`[server] ready on http://127.0.0.1:${PORT}`));

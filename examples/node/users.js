'use strict';
// The little slice of the server's user store that the migration needs: system.db with its
// `users` and `profiles` tables (schemas as in shared/peek-facts.md). Like the server, it opens
// system.db lazily on first use, in WAL mode, creating the tables if they are missing, and
// leaves foreign keys on (better-sqlite3's default; set explicitly here so that the behaviour
// does not depend on how the library was compiled). Creating a profile for a user id that has
// no `users` row therefore fails with "FOREIGN KEY constraint failed", as in the field.

const Database = require('better-sqlite3');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const DATA_DIR = process.env.DATA_DIR || './data';
const SYSTEM_DB_PATH = path.join(DATA_DIR, 'system.db');

let systemDb = null;

function getSystemDb() {
  if (systemDb) {
    return systemDb;
  }
  if (!fs.existsSync(DATA_DIR)) {
    fs.mkdirSync(DATA_DIR, { recursive: true });
  }
  systemDb = new Database(SYSTEM_DB_PATH);
  systemDb.pragma('journal_mode = WAL');
  systemDb.pragma('foreign_keys = ON');
  systemDb.exec(`
    CREATE TABLE IF NOT EXISTS users (
      id TEXT PRIMARY KEY,
      api_key_hash TEXT NOT NULL UNIQUE,
      created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS idx_users_hash ON users(api_key_hash);

    CREATE TABLE IF NOT EXISTS profiles (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      slug TEXT NOT NULL,
      name TEXT NOT NULL,
      created_at TEXT NOT NULL,
      last_used_at TEXT NOT NULL,
      UNIQUE(user_id, slug),
      FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
    );
    CREATE INDEX IF NOT EXISTS idx_profiles_user ON profiles(user_id);
  `);
  return systemDb;
}

/** The profile row of (userId, slug), or undefined. */
function getProfile(userId, slug) {
  return getSystemDb()
    .prepare(
      `SELECT id, user_id, slug, name, created_at, last_used_at
         FROM profiles WHERE user_id = ? AND slug = ?`
    )
    .get(userId, slug);
}

/**
 * Insert a profile row, called as the seed calls it: createProfile(userId, slug, name).
 * No check that the user exists: the foreign key is what refuses an unknown user.
 */
function createProfile(userId, slug, name) {
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  getSystemDb()
    .prepare(
      `INSERT INTO profiles (id, user_id, slug, name, created_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?)`
    )
    .run(id, userId, slug, name, now, now);
  return { id, user_id: userId, slug, name, created_at: now, last_used_at: now };
}

function closeSystemDb() {
  if (systemDb) {
    systemDb.close();
    systemDb = null;
  }
}

module.exports = { getSystemDb, getProfile, createProfile, closeSystemDb };

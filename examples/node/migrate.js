'use strict';
// The server migration as PROPOSED in shared/seed/server-migration-safety.md ("Recommended
// Improvements" 1-4: pre-migration backup with rollback, MIGRATION_DRY_RUN, verifyDatabase,
// backup clean-up after a grace period), assembled the way a customer would ship it.
//
// This is deliberately NOT a correct migrator. It is the code migration-kit is pointed at to
// show what the kit catches, so the proposal's defects are kept as they are (see README.md,
// "Defects the kit reports in the seed's proposal"). Do not fix them here: a fix belongs in the
// customer's code, and the kit's CI asserts that it reports them.
//
// The only departures from the seed's text are the ones the kit's external contract
// (shared/SPEC.md, "How any migrator is run") needs, each marked "CONTRACT:" below:
//   - the exit status (the seed only logs errors and always exits 0);
//   - the grace period read from MIGRATION_BACKUP_GRACE_DAYS (the seed hard-codes 30);
//   - the function is called when this file is run (in the server it runs at start-up).
//
// Run:  DATA_DIR=/abs/path/to/data node examples/node/migrate.js
//       MIGRATION_DRY_RUN=true DATA_DIR=... node examples/node/migrate.js

const fs = require('fs');
const path = require('path');
const Database = require('better-sqlite3');
const users = require('./users');

const DATA_DIR = process.env.DATA_DIR || './data';

// Seed, improvement 2.
const DRY_RUN = process.env.MIGRATION_DRY_RUN === 'true';

// Seed, improvement 4: `const GRACE_PERIOD_DAYS = 30;`
// CONTRACT: the kit may ask for another grace period; 30 days when unset, as in the seed.
const GRACE_PERIOD_DAYS =
  process.env.MIGRATION_BACKUP_GRACE_DAYS !== undefined && process.env.MIGRATION_BACKUP_GRACE_DAYS !== ''
    ? Number(process.env.MIGRATION_BACKUP_GRACE_DAYS)
    : 30;

// Seed, improvement 3.
function verifyDatabase(dbPath) {
  try {
    const db = new Database(dbPath, { readonly: true });

    // Run integrity check
    const result = db.pragma('integrity_check');
    db.close();

    return result[0].integrity_check === 'ok';
  } catch (error) {
    console.error(`Database verification failed: ${error.message}`);
    return false;
  }
}

// CONTRACT: how many users failed, for the exit status (the seed does not count them).
let failedCount = 0;

// Seed, improvement 1, with improvements 2, 3 and 4 put where the seed says they go.
function migrateUserDataToProfiles() {
  if (DRY_RUN) {
    console.log('[DRY RUN] Migration check - no data will be moved');
  }

  if (!fs.existsSync(DATA_DIR)) {
    return;
  }

  const userDirs = fs.readdirSync(DATA_DIR, { withFileTypes: true })
    .filter(dirent => dirent.isDirectory() && dirent.name !== 'system.db')
    .map(dirent => dirent.name);

  let migratedCount = 0;

  for (const userId of userDirs) {
    const oldDbPath = path.join(DATA_DIR, userId, 'peek.db');
    const newDbPath = path.join(DATA_DIR, userId, 'profiles', 'default', 'datastore.sqlite');

    if (!fs.existsSync(oldDbPath) || fs.existsSync(newDbPath)) {
      continue;
    }

    if (DRY_RUN) {
      console.log(`[DRY RUN] Would migrate ${userId}: ${oldDbPath} -> ${newDbPath}`);
      continue;
    }

    try {
      // NEW: Create backup before migration
      const backupPath = `${oldDbPath}.pre-migration-backup`;
      if (!fs.existsSync(backupPath)) {
        console.log(`Creating pre-migration backup for ${userId}`);
        fs.copyFileSync(oldDbPath, backupPath);
      }

      // Create profile directory
      const profileDir = path.dirname(newDbPath);
      if (!fs.existsSync(profileDir)) {
        fs.mkdirSync(profileDir, { recursive: true });
      }

      // Move database file
      fs.renameSync(oldDbPath, newDbPath);
      console.log(`Migrated ${userId} data to profiles/default/datastore.sqlite`);

      // Verify the move succeeded
      if (!fs.existsSync(newDbPath)) {
        throw new Error('Migration verification failed: new DB not found');
      }

      // Seed, improvement 3: "In migration function, after fs.renameSync()"
      if (!verifyDatabase(newDbPath)) {
        throw new Error('Database integrity check failed after migration');
      }

      // Create profile record
      const existingProfile = users.getProfile(userId, 'default');
      if (!existingProfile) {
        users.createProfile(userId, 'default', 'Default');
        console.log(`Created default profile for user ${userId}`);
      }

      // Move images directory if it exists
      const oldImagesDir = path.join(DATA_DIR, userId, 'images');
      const newImagesDir = path.join(DATA_DIR, userId, 'profiles', 'default', 'images');
      if (fs.existsSync(oldImagesDir) && !fs.existsSync(newImagesDir)) {
        fs.renameSync(oldImagesDir, newImagesDir);
        console.log(`Migrated ${userId} images to profiles/default/images`);
      }

      // NEW: Migration successful, can delete backup after grace period
      console.log(`Migration successful for ${userId}. Backup kept at: ${backupPath}`);
      console.log(`(Backup can be manually deleted after verifying data integrity)`);

      migratedCount++;

      // Seed, improvement 4: "After migration completes successfully" (the seed re-declares
      // `const backupPath = ...` here with the same value; it is in scope already).
      setTimeout(() => {
        if (fs.existsSync(backupPath)) {
          const stats = fs.statSync(backupPath);
          const ageMs = Date.now() - stats.mtimeMs;
          const ageDays = ageMs / (1000 * 60 * 60 * 24);

          if (ageDays > GRACE_PERIOD_DAYS) {
            fs.unlinkSync(backupPath);
            console.log(`Cleaned up old migration backup: ${backupPath}`);
          }
        }
      }, 0); // Run async, don't block startup
    } catch (error) {
      failedCount++; // CONTRACT
      console.error(`Failed to migrate ${userId}:`, error.message);

      // NEW: Attempt rollback if backup exists
      const backupPath = `${oldDbPath}.pre-migration-backup`;
      if (fs.existsSync(backupPath) && !fs.existsSync(oldDbPath)) {
        console.error(`Attempting rollback for ${userId}...`);
        try {
          fs.copyFileSync(backupPath, oldDbPath);
          console.log(`Rollback successful for ${userId}`);
        } catch (rollbackError) {
          console.error(`CRITICAL: Rollback failed for ${userId}:`, rollbackError.message);
          console.error(`Manual recovery required. Backup at: ${backupPath}`);
        }
      }
    }
  }

  if (migratedCount > 0) {
    console.log(`Migration complete: ${migratedCount} user(s) migrated to profiles structure`);
  }
}

// In the server this runs at start-up, before it listens. Here it is the whole program.
migrateUserDataToProfiles();

// CONTRACT: exit status 0 when every user was migrated or skipped, non-zero when any failed.
// process.exitCode (not process.exit()) so that the clean-up timers above still run: Node exits
// once the event loop is empty, i.e. after every setTimeout(..., 0) callback has run.
if (failedCount > 0) {
  console.error(`Migration failed for ${failedCount} user(s)`);
  process.exitCode = 1;
}

"""After moving a datastore, upgrades its schema the way the Peek server's start-up does
(``migrateToImageSupport``): a generation-2 ``items`` (its CHECK lacks 'image') is rebuilt
with CREATE items_new, INSERT ... SELECT, ``DROP TABLE items`` and a rename, with foreign
keys on, as better-sqlite3 has them. The DROP deletes every ``item_tags`` row by ON DELETE
CASCADE (R1): the field's cascade, which the kit must report as one.
"""

from __future__ import annotations

import sqlite3

from migrator import server
from tests.broken._variant import variant

ITEMS_NEW = """CREATE TABLE items_new (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL CHECK(type IN ('url', 'text', 'tagset', 'image')),
  content TEXT,
  metadata TEXT,
  sync_id TEXT DEFAULT '',
  sync_source TEXT DEFAULT '',
  synced_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT
)"""
COPIED = "id, type, content, created_at, updated_at, deleted_at"


def migrate_to_image_support(db) -> None:
    """The server's upgrade, foreign keys on: a no-op unless ``items`` lacks 'image'."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'items'").fetchone()
        if row is None or "'image'" in row[0]:
            return
        conn.execute("BEGIN")
        conn.execute(ITEMS_NEW)
        conn.execute(f"INSERT INTO items_new ({COPIED}) SELECT {COPIED} FROM items")
        conn.execute("DROP TABLE items")  # the implicit DELETE cascades into item_tags
        conn.execute("ALTER TABLE items_new RENAME TO items")
        conn.execute("COMMIT")
    finally:
        conn.close()


class _Run(server._UserRun):
    def place_new_db(self, staged, old_stat):
        super().place_new_db(staged, old_stat)
        migrate_to_image_support(self.paths.new_db)


migrate = variant((server, "_UserRun", _Run))

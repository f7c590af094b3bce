"""The seed's testing checklist as data: the items, their markers and the rules behind them.

The plugin's terminal summary, the ``checklist`` command's report and the scenario modules all
read this one table, so an item's wording and its rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChecklistItem:
    number: int
    marker: str  # pytest marker: ``-m <marker>`` selects the item's scenarios
    text: str  # the seed's own words
    rules: tuple[str, ...]  # SPEC rules the item's scenarios judge


ITEMS: tuple[ChecklistItem, ...] = (
    ChecklistItem(1, "small_db", "Test migration with small database (< 1MB)", ("R1",)),
    ChecklistItem(2, "large_db", "Test migration with large database (> 100MB)", ("R1", "R16")),
    ChecklistItem(3, "disk_full", "Test migration with disk nearly full", ("R8",)),
    ChecklistItem(4, "rollback", "Test migration rollback on failure", ("R9", "R10", "R12")),
    ChecklistItem(5, "dry_run", "Test dry-run mode", ("R2",)),
    ChecklistItem(6, "idempotency", "Test migration idempotency (run twice)", ("R3",)),
    ChecklistItem(7, "integrity", "Test database integrity verification", ("R5", "R7")),
    ChecklistItem(8, "backup_cleanup", "Test backup cleanup after grace period", ("R11",)),
    ChecklistItem(
        9, "no_backup_without_db", "Verify backup doesn't exist when old DB missing", ("R6",)
    ),
    ChecklistItem(10, "skip_migrated", "Verify migration skips if already migrated", ("R4",)),
)

# Scenarios beyond the checklist: the field's failures and the rest of SPEC.
BEYOND: tuple[ChecklistItem, ...] = (
    ChecklistItem(11, "wal", "Rows that sit only in peek.db-wal are migrated", ("R1",)),
    ChecklistItem(
        12, "hostile", "Symlinks, stray files, dot entries, backups/ not touched", ("R13", "R14")
    ),
    ChecklistItem(13, "concurrency", "Two migrator processes started together", ("R15",)),
    ChecklistItem(14, "faults", "Every single fault at every file operation", ("R9", "R10")),
    ChecklistItem(15, "property", "Generated trees: the rules hold for every one", ("R1", "R3")),
    ChecklistItem(
        16, "power_loss", "A power cut at every durability point loses nothing", ("R17",)
    ),
    ChecklistItem(
        17, "after_check", "The app works on the migrated tree (--after-check)", ("R18",)
    ),
)

ALL_ITEMS = ITEMS + BEYOND
BY_MARKER = {item.marker: item for item in ALL_ITEMS}

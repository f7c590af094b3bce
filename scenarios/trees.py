"""The trees the scenarios run on: realistic DATA_DIRs as ``TreeSpec`` values.

Each is a plain spec (``Trial.tree`` sets its seed from ``--mk-seed``), small enough that the
whole default run stays fast, and real in the ways production data dirs are: several users,
image files shared between items, rows that sit only in ``peek.db-wal`` (a server killed
before its checkpoint), and the neighbours a user folder has (the server's ``backups/``,
dot files), and datastores of every Peek schema generation (peek-facts: ``urls`` in the
oldest, no images in the next; a migrator copies each as it is). Names are stable: a failure
report names users, and a person reads them.
"""

from __future__ import annotations

from fixtures import variants
from fixtures.spec import DAMAGE_KINDS, TreeSpec, UserSpec

MIB = 1 << 20
NEIGHBOURS = ("server_backups", "dot_entries")  # what every real DATA_DIR also holds


def small_users() -> TreeSpec:
    """Item 1: legacy users each well under 1 MB: the single-user server's ``default``, a
    busy user with most recent rows still in the -wal, a light one, one who never saved;
    one datastore of each schema generation (``bob`` 2, ``erin`` 1: empty ``urls``)."""
    return TreeSpec(
        users=(
            UserSpec("default", items=150, images=4),
            UserSpec("alice", items=200, images=3, wal_share=0.6),
            UserSpec("bob", items=15, images=0, generation=2),
            UserSpec("erin", items=0, images=0, generation=1),
        ),
        extras=NEIGHBOURS,
    )


def large_user() -> TreeSpec:
    """Item 2: one user whose datastore is over 100 MB (some of it in the -wal), beside a
    small one."""
    return TreeSpec(
        users=(
            UserSpec("big", target_bytes=110 * MIB, images=5, wal_share=0.1),
            UserSpec("alice", items=60, images=2),
        )
    )


def tiny_user() -> TreeSpec:
    """The smallest real tree: what a migrator's runtime costs before any data (R16)."""
    return TreeSpec(users=(UserSpec("tiny", items=5, images=1),))


def one_big_user_among_small(big_bytes: int) -> TreeSpec:
    """Item 3: a big user that cannot fit on a nearly full disk, and small ones that can."""
    return TreeSpec(
        users=(
            UserSpec("alice", items=80, images=2, wal_share=0.3),
            UserSpec("big", target_bytes=big_bytes, images=2, wal_share=0.2),
            UserSpec("bob", items=20, images=1),
        ),
    )


def three_users() -> TreeSpec:
    """Item 4: a user mid-run (``bob``, WAL-heavy, images) between two others, one of each
    schema generation (``alice`` 1, ``bob`` 3, ``carol`` 2)."""
    return TreeSpec(
        users=(
            UserSpec("alice", items=60, images=0, generation=1),
            UserSpec("bob", items=150, images=3, wal_share=0.5),
            UserSpec("carol", items=30, images=0, generation=2),
        ),
    )


def mixed_states() -> TreeSpec:
    """Items 5 and 6: a server part way through life: legacy users (one WAL-heavy), one
    already migrated with a young backup, one caught in the dry-run trap, one with no DB."""
    return TreeSpec(
        users=(
            UserSpec("default", items=150, images=4),
            UserSpec("alice", items=120, images=3, wal_share=0.6),
            UserSpec("bob", state="migrated", items=40, images=2, backup_age_days=12),
            UserSpec("carol", state="both_different", items=30, images=1),
            UserSpec("dave", state="no_db"),
        ),
        extras=NEIGHBOURS,
        profiles_table=True,
    )


def seed_folders() -> TreeSpec:
    """Item 10 through the layout: users the seed's migration left in profiles/default (one
    with rows in the datastore's -wal), beside a legacy user. Under peek-slug they are
    migrated users to leave alone; under peek-uuid (Peek at 398e4a1) their folder must be
    renamed to profiles/<row id>, images and -wal rows whole, nothing left in default/."""
    return TreeSpec(
        users=(
            UserSpec("seeded", state="migrated", items=40, images=3, layout="peek-slug"),
            UserSpec(
                "seeded-wal",
                state="migrated",
                items=60,
                images=2,
                wal_share=0.5,
                layout="peek-slug",
            ),
            UserSpec("fresh", items=30, images=1),
        ),
        profiles_table=True,
    )


def legacy_only() -> TreeSpec:
    """Item 6: the first deploy: every user legacy, one WAL-heavy, one never saved, in every
    schema generation (``default`` 1, ``bob`` 2 with rows in its -wal, ``alice`` 3)."""
    return TreeSpec(
        users=(
            UserSpec("default", items=150, images=0, generation=1),
            UserSpec("alice", items=120, images=3, wal_share=0.6),
            UserSpec("bob", items=30, images=0, generation=2, wal_share=0.5),
            UserSpec("dave", state="no_db"),
        ),
        extras=NEIGHBOURS,
    )


def half_migrated() -> TreeSpec:
    """Item 6: one user in each state a crash or the seed's own code can leave behind."""
    return variants.half_migrated()


def corrupt_users() -> TreeSpec:
    """Item 7: one user per kind of damaged peek.db, and healthy users (one WAL-heavy)."""
    damaged = tuple(UserSpec(f"damaged-{k}", items=60, damage=k) for k in DAMAGE_KINDS)
    healthy = (
        UserSpec("healthy", items=40, images=2),
        UserSpec("healthy-wal", items=80, images=1, wal_share=0.7),
    )
    return TreeSpec(users=(*healthy, *damaged), extras=NEIGHBOURS)


def both_present() -> TreeSpec:
    """Item 7: old and new DB both present: a finished copy (crash before the old DB went)
    and the dry-run trap (an empty new DB), beside a legacy user."""
    return TreeSpec(
        users=(
            UserSpec("copied", state="both_identical", items=50, images=2),
            UserSpec("copied-wal", state="both_identical", items=50, images=1, wal_share=0.5),
            UserSpec("trapped", state="both_different", items=70, images=2),
            UserSpec("trapped-wal", state="both_different", items=70, wal_share=0.5),
            UserSpec("alice", items=60, images=2, wal_share=0.3),
        ),
        profiles_table=True,
    )


def aged_backups(ages: tuple[float, ...]) -> TreeSpec:
    """Item 8: migrated users whose backups are ``ages`` days old, the backup of a user who
    is not fully migrated (only the backup is left, aged past any grace period), and a
    legacy user whose fresh backup this run makes."""
    base = variants.aged_backups(ages)
    return TreeSpec(
        users=(*base.users, UserSpec("alice", items=60, images=2, wal_share=0.4)),
        profiles_table=True,
    )


def users_without_db() -> TreeSpec:
    """Item 9: users with a folder but no peek.db (signed up, never saved), beside legacy
    users."""
    return TreeSpec(
        users=(
            UserSpec("never-saved", state="no_db"),
            UserSpec("never-saved-2", state="no_db"),
            UserSpec("alice", items=60, images=2, wal_share=0.4),
            UserSpec("bob", items=20, images=1),
        ),
        extras=NEIGHBOURS,
    )


def already_migrated() -> TreeSpec:
    """Item 10: users already migrated (one with rows in the new DB's -wal, one with a young
    backup, one without images, and one the seed's code left without its profile row: it
    crashed between moving the DB and ``createProfile``), beside a legacy user."""
    return TreeSpec(
        users=(
            UserSpec("moved", state="migrated", items=80, images=3),
            UserSpec("moved-wal", state="migrated", items=80, images=1, wal_share=0.5),
            UserSpec("moved-backup", state="migrated", items=40, images=2, backup_age_days=3),
            UserSpec("moved-plain", state="migrated", items=20, images=0),
            UserSpec("moved-no-profile", state="new_without_profile", items=30, images=0),
            UserSpec("alice", items=60, images=2, wal_share=0.3),
        ),
        extras=NEIGHBOURS,
        profiles_table=True,
    )


def wal_heavy() -> TreeSpec:
    """Beyond: after a killed server, most or all of a user's recent rows are in -wal."""
    return TreeSpec(
        users=(
            UserSpec("busy", items=2000, images=3, wal_share=0.95),
            UserSpec("all-in-wal", items=300, images=1, wal_share=1.0),
            # the field's 4 KB peek.db beside its -wal, in the generation before images
            UserSpec("all-in-wal-v2", items=100, images=0, generation=2, wal_share=1.0),
            UserSpec("calm", items=50, images=1),
        ),
    )


def hostile() -> TreeSpec:
    """Beyond: everything in a DATA_DIR that is not a plain user (fixtures.variants)."""
    return variants.hostile()


def busy_server() -> TreeSpec:
    """Beyond (R15): enough users, with enough data, that two processes overlap."""
    users = tuple(
        UserSpec(f"user-{i}", items=400 + 100 * i, images=2, wal_share=0.3 if i % 2 else 0.0)
        for i in range(6)
    )
    return TreeSpec(users=users, extras=NEIGHBOURS)

"""``migration-kit rules [R8 ...]``: the rules the kit judges by, as shipped with it.

Without an id, the whole text (the migration, the external contract, the rules table);
with ids, each rule's situation and what a correct migrator leaves, and the text every
rule under faults refers to ("no content lost at any moment"). Exit 2 for an id that is
not a rule.
"""

from __future__ import annotations

import argparse
import sys

from harness.contract import rules
from harness.judge.verdict import RULES

EXIT_OK, EXIT_USAGE = 0, 2
# Rules whose text leans on SPEC's paragraph on "no content lost at any moment".
_ANY_MOMENT = {"R9", "R10", "R12", "R17", "content"}
_ANY_MOMENT_TEXT = '"No content lost at any moment" means'


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "rules",
        help="print the rules the kit judges a migrator by (all, or the ids given)",
        description="Print SPEC's contract and correctness rules as shipped with the kit: "
        "all of it, or the rules named (R1 ... R18, content, contract).",
    )
    p.add_argument("ids", nargs="*", metavar="RULE", help="rule ids, e.g. R8 or r10")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.ids:
        print(rules.text().rstrip())
        return EXIT_OK
    wanted = [i if i in RULES else i.upper() for i in args.ids]
    unknown = [i for i in wanted if i not in RULES]
    if unknown:
        known = ", ".join(RULES)
        print(
            f"migration-kit rules: no rule {', '.join(unknown)} (known: {known})", file=sys.stderr
        )
        return EXIT_USAGE
    for rule in wanted:
        situation, expected = RULES[rule]
        print(f"{rule}: {situation}\n  a correct migrator leaves: {expected}")
    if _ANY_MOMENT & set(wanted):
        paragraph = next(p for p in rules.text().split("\n\n") if p.startswith(_ANY_MOMENT_TEXT))
        print("\n" + paragraph.strip())
    return EXIT_OK

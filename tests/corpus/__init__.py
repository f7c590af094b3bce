"""Correct migrators written from SPEC alone, in styles the reference does not use, each
with a broken twin: the kit passes the one and reports the other (no false alarms)."""

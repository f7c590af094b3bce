"""Tests of harness/judge: snapshots, verdicts and the oracles of SPEC's rules."""

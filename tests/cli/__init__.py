"""Tests of harness/cli: the migration-kit command as a person runs it."""

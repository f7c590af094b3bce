"""Tests of harness/run: the migrator adapters (py: and cmd: specs), running one process."""

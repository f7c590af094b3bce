"""Tests of harness/pytest_plugin, run as pytest runs it (pytester child processes)."""

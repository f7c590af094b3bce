"""Tests of harness/report: the checklist's results folded into items."""

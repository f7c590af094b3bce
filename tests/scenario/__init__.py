"""Tests of harness/scenario: trials built, run and judged without pytest."""

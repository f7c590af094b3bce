"""Runs any migrator on generated trees, under faults, and judges the result against SPEC."""

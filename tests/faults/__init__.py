"""Tests of harness/faults: every fault backend against the same workload."""

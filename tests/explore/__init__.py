"""Tests of harness/explore: the fault explorer; powerloss/ tests the crash model."""

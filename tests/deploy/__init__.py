"""Tests of harness/deploy: plan, capture, rehearse and field replay on real trees."""

"""Tests of the reference migrator (migrator/), on real trees in temporary folders."""

"""Helpers shared by the tests of several rooms: plain functions and constants only
(fixtures stay in a conftest.py, where pytest finds them)."""

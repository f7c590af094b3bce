"""Tests of harness/store: the dataclass <-> JSON codec (golden files pin every format),
once() and the scratch directories."""

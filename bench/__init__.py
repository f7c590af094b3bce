"""Benchmarks of the kit and the reference migrator: figures beside targets, never assertions.

``migration-kit bench [--quick]`` (``bench.suite``) runs them all in one go and prints the
table the README's "Performance" section carries. Each ``bench_*`` module also runs alone.
"""

"""The reference server profiles migration: what a server should ship.

Nothing in here imports ``harness`` or ``fixtures``: this package is the example a team
copies, and it depends on the Python standard library only.
"""

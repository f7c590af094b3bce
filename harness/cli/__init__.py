"""``migration-kit``: one command, a module per group of subcommands.

``main`` assembles the parser and is the only place an error becomes an exit status; each
other module registers its subcommands and imports what its handlers need.
"""

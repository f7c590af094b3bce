"""SPEC as code: the facts every other room reads and none may redefine.

What "content" of a datastore means (``content``), where a user's data lives before and after
the migration, the schemas of the application's databases, and the errors and exit statuses of
the kit's commands. It is the bottom room of the kit: it imports nothing else of it, so
``fixtures`` (which builds trees that satisfy or break the contract) and the judge (which checks
them) read the same definitions. It shares no code with ``migrator/``: an oracle that shares
code with what it judges shares its bugs.
"""

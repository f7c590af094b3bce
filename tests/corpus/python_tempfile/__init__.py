"""A correct migrator in Python's tempfile style (``migrate``) and its broken twin."""

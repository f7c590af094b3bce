"""Field specs (``*.json``): a package only so that the files ship with the kit as package data.

``scenarios/test_field.py`` replays every spec found here; see README.md in this folder.
"""

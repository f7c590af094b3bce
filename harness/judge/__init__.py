"""Judge a run: the tree before and after (``snapshot``, ``dbcontent``), SPEC's rules as
oracles (``oracles``) and the verdicts a person reads (``verdict``).
"""

"""Judge a run: the tree before and after (``snapshot``), SPEC's rules as
oracles (``oracles``) and the verdicts a person reads (``verdict``).
"""

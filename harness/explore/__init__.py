"""Exploration: the same migration broken at every point, one case each.

The fault explorer (an errno or a kill at every file operation), one job a module:
``exploration`` (what to explore), ``backends`` (a run recorded or faulted, by strace or in
process), ``fingerprint`` (the code a recording depends on), ``baseline`` (the fault-free
run, recorded once, and its cases), ``verdicts`` (what a case is held to) and ``cases`` (one
case run and judged). ``powerloss`` is the power-cut explorer (every durability point);
``results`` is the vocabulary both report in.
"""

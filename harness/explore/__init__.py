"""Exploration: the same migration broken at every point, one case each.

``engine`` is the fault explorer (an errno or a kill at every file operation), ``powerloss``
the power-cut explorer (every durability point); ``results`` is the vocabulary both report in.
"""

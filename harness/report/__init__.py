"""What a person reads after a run: the checklist's items (``items``) and a checklist run's
results, folded and rendered (``checklist``).
"""

"""Commands on a real data dir, before and after a deploy: ``plan`` (read-only preview),
``rehearse`` (a run on a scratch copy, judged), ``capture`` (an anonymised look-alike spec) and
``field_replay`` (that spec rebuilt and judged).
"""

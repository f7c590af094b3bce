"""What the kit keeps between processes: values computed once for every process of a run
(``once``), where scratch trees go (``scratch``), and plain data to and from JSON (``codec``).

A bottom room like ``contract``: it imports nothing else of the kit, so ``fixtures`` and every
harness room can use it.
"""

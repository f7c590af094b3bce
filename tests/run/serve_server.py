"""A server whose start-up runs a migration, then listens until stopped: what a ``serve:``
migrator is, in Python, for the kit's own tests.

``python serve_server.py MODULE:FUNCTION`` migrates ``$DATA_DIR`` with that callable (the
reference migrator, or one of ``tests/broken``), prints a failure on stderr as a server
would, then "listening on ..." and serves ``$PORT`` on the loopback until it is stopped.
"""

from __future__ import annotations

import http.server
import importlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # migrator, tests.broken


def main() -> None:
    module, _, name = sys.argv[1].partition(":")
    migrate = getattr(importlib.import_module(module), name)
    try:
        migrate(Path(os.environ["DATA_DIR"]), dry_run=os.environ.get("MIGRATION_DRY_RUN") == "true")
    except Exception as exc:  # a server logs it and serves on: the launcher reads the line
        print(f"migration failed: {exc}", file=sys.stderr, flush=True)
    port = int(os.environ["PORT"])
    server = http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

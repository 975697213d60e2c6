"""Legacy entry point `python -m scripts.ingest_options`: a thin front over the Prefect flows."""

from __future__ import annotations

import sys

from flows.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m scripts.ingest_options"))

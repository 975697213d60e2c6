"""`python -m flows.backfill --start-date … --end-date …`: the ingest CLI in range-only mode."""

import sys

from scripts.ingest_options import main

sys.exit(main(prog="python -m flows.backfill", range_only=True))

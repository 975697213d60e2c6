"""`python -m flows.ingest [--as-of D]`: the ingest CLI (same as `python -m scripts.ingest_options`)."""

import sys

from scripts.ingest_options import main

sys.exit(main(prog="python -m flows.ingest"))

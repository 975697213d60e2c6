"""The everyday loop's wall time, as ratios to `python -c "import prefect"` timed in the same run.

Run `python bench/cli.py [--rounds 5]` from the repository root; prints one line of figures.

A throw-away embedded PostgreSQL and warm-server home (a temp directory: never the checkout's
`.kapman`, `DATABASE_URL` or `PREFECT_API_URL`) with a three-symbol watchlist; one untimed
`python -m scripts.ingest_options --as-of 2025-12-16` on the synthetic provider ingests the day and
starts the local Prefect server (`first_s`). Then, `--rounds` times, interleaved so a loaded machine
weighs on each alike: `python -c "import prefect"`, the same command again (a no-op re-run of a
complete day: every symbol-day in the ledger, zero rows, no provider call) and `python -m
scripts.ingest_options --help`. Each round's ratio is the command's wall time over that round's
`import prefect`; printed are the medians and the spread (min–max). Targets: no-op re-run ≤ 2.5×,
`--help` ≤ 0.35×. `python -m store stop` ends both servers at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SESSION = "2025-12-16"
SYMBOLS = ("SPY", "QQQ", "AAPL")
# Variables that would point the bench at a real database, provider or Prefect API.
_FOREIGN = ("DATABASE_URL", "OPTIONS_PROVIDER", "PREFECT_API_URL", "KAPMAN_PGDATA", "KAPMAN_PREFECT_HOME")
TARGET_NOOP, TARGET_HELP = 2.5, 0.35


def timed(command: list[str], env: dict[str, str], *, expect: str | None = None) -> float:
    """Wall seconds of `command` run from the checkout; it must exit 0 (and print `expect`)."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - started
    if result.returncode != 0 or (expect is not None and expect not in result.stdout):
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return seconds


def spread(values: list[float], digits: int) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (at least 3)")
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3")

    state = Path(tempfile.mkdtemp(prefix="kapman-bench-cli-"))
    env = {name: value for name, value in os.environ.items() if name not in _FOREIGN}
    env.update({"KAPMAN_PGDATA": str(state / "pgdata"), "KAPMAN_PREFECT_HOME": str(state / "prefect")})
    python = sys.executable
    ingest = [python, "-m", "scripts.ingest_options", "--provider", "synthetic", "--as-of", SESSION]
    try:
        timed([python, "-m", "store", "watchlist", "add", *SYMBOLS], env)
        first = timed(ingest, env, expect="succeeded=1 partial=0 failed=0 skipped=0")
        prefect, noop, helped = [], [], []
        for _ in range(args.rounds):
            prefect.append(timed([python, "-c", "import prefect"], env))
            noop.append(timed(ingest, env, expect="skipped=1 rows_written=0"))
            helped.append(timed([*ingest[:3], "--help"], env, expect="usage: "))
    finally:
        subprocess.run([python, "-m", "store", "stop"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=300)
        shutil.rmtree(state, ignore_errors=True)

    noop_ratio = [run / base for run, base in zip(noop, prefect, strict=True)]
    help_ratio = [run / base for run, base in zip(helped, prefect, strict=True)]
    figures = {
        "rounds": args.rounds,
        "first_s": f"{first:.2f}",
        "import_prefect_s": f"{statistics.median(prefect):.2f}",
        "noop_rerun_s": f"{statistics.median(noop):.2f}",
        "help_s": f"{statistics.median(helped):.3f}",
        "noop_ratio": f"{statistics.median(noop_ratio):.2f}",
        "noop_ratio_spread": spread(noop_ratio, 2),
        "help_ratio": f"{statistics.median(help_ratio):.3f}",
        "help_ratio_spread": spread(help_ratio, 3),
        "noop_met": statistics.median(noop_ratio) <= TARGET_NOOP,
        "help_met": statistics.median(help_ratio) <= TARGET_HELP,
    }
    print(" ".join(f"{name}={value}" for name, value in figures.items()))


if __name__ == "__main__":
    main()

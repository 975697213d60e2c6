"""Where charts go and how they are written: whole files only, and an inline copy for the Prefect UI.

A chart is written to a temporary name beside its target and renamed into place, so a reader (a
browser, a person's file manager, a second run) never sees half a PNG. The Prefect UI cannot read
the worker's disk, so a markdown artifact carries the picture itself as a `data:` URI, up to a cap
that keeps the artifact small; past it the artifact names the file only.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Beside the embedded database's data directory (`.kapman/pgdata`).
DEFAULT_CHART_DIR = PROJECT_ROOT / ".kapman" / "charts"
# Largest PNG embedded in a markdown artifact (bytes); larger ones are linked by path only.
MAX_INLINE_PNG = 1_000_000


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        # mkstemp creates 0600; a chart is for anyone who may read the folder (reading the umask
        # would mean setting it, process-wide, under the run's other threads).
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def markdown_image(path: Path, *, alt: str) -> str:
    """Markdown that shows the PNG at `path` in the Prefect UI (inline) and says where the file is."""
    data = path.read_bytes()
    where = f"File: `{path}`"
    if len(data) > MAX_INLINE_PNG:
        return f"{where} ({len(data):,} bytes, too large to show inline)\n"
    encoded = base64.b64encode(data).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})\n\n{where}\n"

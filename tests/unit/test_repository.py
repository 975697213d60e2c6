"""What a merge can leave behind in tracked files: conflict markers in docs or code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.M)


def test_no_tracked_text_file_holds_a_merge_conflict_marker() -> None:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = [path for path in listed if path.endswith((".py", ".md", ".toml", ".yaml", ".yml", ".sql", ".txt", ".cfg"))]
    assert texts, "git ls-files listed no text files"
    marked = [path for path in texts if (ROOT / path).is_file() and MARKER.search((ROOT / path).read_text())]
    assert marked == []

"""Headless Chromium for looking at the Prefect UI the way a person does (Debian's `chromium`)."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Flags that work in a container as root without a display, GPU or internet.
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def ensure_chromium() -> str:
    """The Chromium binary, installed from Debian's registry (`apt-get`) when missing."""
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return CHROMIUM


def _run(chromium: str, url: str, extra: list[str], *, timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium, *HEADLESS_FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def dump_dom(chromium: str, url: str, *, budget_ms: int = 15_000, timeout: float = 90) -> str:
    """The page's DOM after `budget_ms` of virtual time: what a JS app has rendered by then."""
    result = _run(chromium, url, [f"--virtual-time-budget={budget_ms}", "--dump-dom"], timeout=timeout)
    return result.stdout


def screenshot(
    chromium: str, url: str, path: Path, *, size: str = "1400,1000", budget_ms: int = 15_000, timeout: float = 90
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    result = _run(
        chromium,
        url,
        [f"--screenshot={path}", f"--window-size={size}", f"--virtual-time-budget={budget_ms}"],
        timeout=timeout,
    )
    if not path.exists():
        raise RuntimeError(f"chromium wrote no screenshot ({result.returncode}): {result.stderr[-2000:]}")


def visible_text(dom: str) -> str:
    """The text a person would read in a dumped DOM: no scripts or styles, whitespace collapsed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()

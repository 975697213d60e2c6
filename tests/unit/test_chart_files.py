"""Charts are written whole or not at all, and a markdown artifact shows them inline up to a cap."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from charts import files
from charts.files import markdown_image, write_atomically


def test_a_chart_is_written_whole_and_no_temporary_file_stays(tmp_path: Path) -> None:
    target = tmp_path / "new" / "chart.png"
    assert write_atomically(target, b"first") == target
    write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [path.name for path in target.parent.iterdir()] == ["chart.png"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "chart.png"
    target.write_bytes(b"old")

    def refuse(source: str, destination: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["chart.png"]


def test_markdown_carries_the_picture_inline_up_to_the_cap_and_always_names_the_file(
    tmp_path: Path, monkeypatch
) -> None:
    content = b"\x89PNG small"
    small = write_atomically(tmp_path / "small.png", content)
    markdown = markdown_image(small, alt="coverage")
    assert f"![coverage](data:image/png;base64,{base64.b64encode(content).decode()})" in markdown
    assert f"`{small}`" in markdown

    monkeypatch.setattr(files, "MAX_INLINE_PNG", 4)
    too_large = markdown_image(small, alt="coverage")
    assert "data:image" not in too_large and f"`{small}`" in too_large and "too large" in too_large

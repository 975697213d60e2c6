"""The binary COPY answer dealer metrics read: parsed exactly, refused when its layout is not the expected one."""

import struct

import numpy as np
import pytest

from store.dealer_rows import _COPY_SIGNATURE, _snapshot_arrays

ELEMENTS = (("i", 23, 4), ("d", 701, 8), ("h", 21, 2), ("d", 701, 8), ("d", 701, 8), ("d", 701, 8))


def array_field(
    code: str, oid: int, size: int, values, *, has_null: int = 0, declared_size: int | None = None
) -> bytes:
    cells = b"".join(struct.pack(">i", declared_size or size) + struct.pack(f">{code}", value) for value in values)
    body = struct.pack(">5i", 1, has_null, oid, len(values), 1) + cells
    return struct.pack(">i", len(body)) + body


def answer(snapshots: dict[int, list[list]], **field_options) -> bytes:
    rows = b""
    for micros, columns in snapshots.items():
        rows += struct.pack(">h", 7) + struct.pack(">iq", 8, micros)
        for (code, oid, size), values in zip(ELEMENTS, columns, strict=True):
            rows += array_field(code, oid, size, values, **field_options)
    return _COPY_SIGNATURE + struct.pack(">ii", 0, 0) + rows + struct.pack(">h", -1)


def columns(n: int, start: float) -> list[list]:
    return [
        [9000 + i for i in range(n)],
        [start + i for i in range(n)],
        [i % 2 for i in range(n)],
        [0.01 * i for i in range(n)],
        [float("nan")] + [10.0] * (n - 1),
        [0.2] * n,
    ]


def test_each_snapshot_row_becomes_its_columns():
    parsed = _snapshot_arrays(answer({1_000: columns(3, 100.0), 2_000: columns(2, 50.0)}))

    assert sorted(parsed) == [1_000, 2_000]
    first = parsed[1_000]
    assert first.expiration_day.tolist() == [9000, 9001, 9002] and first.expiration_day.dtype == np.int32
    assert first.strike.tolist() == [100.0, 101.0, 102.0]
    assert first.call_code.tolist() == [0, 1, 0]
    assert np.isnan(first.open_interest[0]) and first.open_interest[1:].tolist() == [10.0, 10.0]
    assert parsed[2_000].strike.tolist() == [50.0, 51.0]


def test_an_empty_answer_has_no_snapshot():
    assert _snapshot_arrays(answer({})) == {}


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda: answer({1: columns(2, 1.0)}, has_null=1), id="array-with-nulls"),
        pytest.param(lambda: answer({1: columns(2, 1.0)}, declared_size=3), id="element-size"),
        pytest.param(lambda: answer({1: columns(2, 1.0)})[:-9] + struct.pack(">h", -1), id="truncated"),
        pytest.param(lambda: b"COPY" + answer({1: columns(2, 1.0)})[4:], id="not-binary-copy"),
    ],
)
def test_an_unexpected_layout_is_refused(broken):
    with pytest.raises(ValueError):
        _snapshot_arrays(broken())

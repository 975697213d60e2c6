"""COPY's CSV text → Arrow tables of a fixed schema, a bounded chunk at a time.

The one place read-back values get their types: `arrow_schema` maps each `Kind` of
`store.readback` to an Arrow type (strikes `decimal128(12, 4)`, instants `timestamp[us, UTC]`),
and `CsvToArrow` parses the text COPY streams with that schema, in C++, chunk by chunk, handing each
chunk's table on as soon as it is parsed. The parquet export writes each chunk as a row group and
forgets it; the `kapman` frames keep them. Parsing decimal text straight into decimal128 keeps
strikes exact, and float text is parsed with correct rounding, so a float read back is the float
whose shortest representation PostgreSQL stored.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet

from store.readback import Column, Kind

ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.DATE: pa.date32(),
    Kind.STRIKE: pa.decimal128(12, 4),
    Kind.FLOAT: pa.float64(),
    Kind.INTEGER: pa.int64(),
    Kind.TEXT: pa.string(),
    Kind.BOOLEAN: pa.bool_(),
}
# CSV text parsed per Arrow table: large enough that per-chunk cost vanishes (tens of thousands of
# rows, one parquet row group each), small enough that memory stays flat whatever the range.
CHUNK_BYTES = 8 * 1024 * 1024


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(column.name, ARROW_TYPES[column.kind]) for column in columns])


class CsvToArrow:
    """A file-like sink for `COPY … TO STDOUT (FORMAT csv)` without a header: buffers the text and
    passes every ~`chunk_bytes` of whole rows, parsed, to `on_table`. Call `close()` at the end."""

    def __init__(
        self, columns: Sequence[Column], on_table: Callable[[pa.Table], None], chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self.schema = arrow_schema(columns)
        self._on_table = on_table
        self._chunk_bytes = chunk_bytes
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._read_options = pyarrow.csv.ReadOptions(column_names=self.schema.names)
        # COPY writes NULL as an empty unquoted field and an empty string as "": keep them apart.
        self._convert_options = pyarrow.csv.ConvertOptions(
            column_types=self.schema, strings_can_be_null=True, quoted_strings_can_be_null=False
        )

    def write(self, data: bytes) -> int:
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= self._chunk_bytes:
            text = b"".join(self._pending)
            end = text.rfind(b"\n") + 1  # whole rows only; the rest waits for the next write
            self._pending = [text[end:]] if end < len(text) else []
            self._pending_bytes = len(text) - end
            self._parse(text[:end])
        return len(data)

    def close(self) -> None:
        text = b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        self._parse(text)

    def _parse(self, text: bytes) -> None:
        if not text:
            return
        table = pyarrow.csv.read_csv(
            io.BytesIO(text), read_options=self._read_options, convert_options=self._convert_options
        )
        self._on_table(table)


def read_table(columns: Sequence[Column], copy: Callable[[CsvToArrow], object]) -> pa.Table:
    """Everything `copy` streams into a sink, as one table (empty, with the schema, when no row)."""
    tables: list[pa.Table] = []
    sink = CsvToArrow(columns, tables.append)
    copy(sink)
    sink.close()
    return pa.concat_tables(tables) if tables else arrow_schema(columns).empty_table()


class ParquetFile:
    """Parquet written chunk by chunk: one row group per parsed chunk, nothing kept after it is
    written. The file is opened at the first row, so no row means no file."""

    def __init__(self, path: Path, columns: Sequence[Column], chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = path
        self._writer: pyarrow.parquet.ParquetWriter | None = None
        self.sink = CsvToArrow(columns, self._write, chunk_bytes)

    def _write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pyarrow.parquet.ParquetWriter(self.path, self.sink.schema)
        self._writer.write_table(table)

    def close(self, *, complete: bool = True) -> None:
        """Write what is buffered and close; `complete=False` (the copy failed) only closes."""
        try:
            if complete:
                self.sink.close()
        finally:
            if self._writer is not None:
                self._writer.close()

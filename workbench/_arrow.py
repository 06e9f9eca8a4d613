"""Arrow tables from plain Python values without importing pandas.

``pa.array`` and ``pa.Table.from_pylist`` probe every Python sequence for
being a pandas object, which imports pandas (about 45 MiB resident) into the
process. The agent must never pay that, so the columns it writes (samples,
action outcomes) are built here from raw buffers.
"""

from __future__ import annotations

import array
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

__all__ = ["fixed_width", "strings", "table_from_rows"]


def fixed_width(type_: pa.DataType, code: str, values) -> pa.Array:
    """An Arrow array of int64/timestamp (``code`` 'q') or float64 ('d') values."""
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(array.array(code, values))])


def strings(values: Iterable[str]) -> pa.Array:
    """An Arrow string array; characters UTF-8 cannot encode (lone surrogates) become '?'."""
    data = [v.encode("utf-8", "replace") for v in values]
    offsets = array.array("i", [0])
    offsets.extend(itertools.accumulate(map(len, data)))
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def table_from_rows(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` (string, ``timestamp[us]`` as epoch seconds, float64, int64 fields) from dicts.

    ``None`` strings become empty strings: these tables are audit records,
    read back by people and SQL, where an empty note and no note mean the same.
    """
    cols = []
    for f in schema:
        values = [r.get(f.name) for r in rows]
        if pa.types.is_timestamp(f.type):
            cols.append(fixed_width(f.type, "q", [round(float(v) * 1e6) for v in values]))
        elif pa.types.is_float64(f.type):
            cols.append(fixed_width(f.type, "d", [float("nan") if v is None else float(v) for v in values]))
        elif pa.types.is_int64(f.type):
            cols.append(fixed_width(f.type, "q", [int(v or 0) for v in values]))
        else:
            cols.append(strings("" if v is None else str(v) for v in values))
    return pa.Table.from_arrays(cols, schema=schema)

"""Store(threads=N): the DuckDB threads of every connection the store opens, on every thread."""

from __future__ import annotations

import threading

import pytest

from workbench.errors import ParameterError
from workbench.store import Store


def _threads(store: Store) -> int:
    return store.sql("SELECT current_setting('threads') AS n")["n"].iloc[0]


def test_threads_apply_to_every_connection_the_store_opens(tmp_path):
    store = Store(tmp_path, threads=1)
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_threads(store)))
    worker.start()
    worker.join()
    assert _threads(store) == 1 and seen == [1]
    assert _threads(Store(tmp_path)) >= 1  # the default: DuckDB's own (one per core)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_bad_thread_count_is_a_parameter_error(tmp_path, bad):
    with pytest.raises(ParameterError, match="threads"):
        Store(tmp_path, threads=bad)

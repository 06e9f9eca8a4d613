"""Task options: how a task is run, kept apart from the arguments of the function it runs.

``ex.submit(fn, *args, **kwargs)`` passes every keyword to ``fn``, as
:meth:`concurrent.futures.Executor.submit` promises. Options travel separately, in a
:class:`TaskOptions` (``ex.submit(fn, x, options=TaskOptions(timeout=5))``) or bound to
the executor first, as Ray does (``ex.options(timeout=5, retry=Retry()).submit(fn, x)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.execute._executor import TaskFuture, ThrottledExecutor
    from workbench.execute._retry import Retry

__all__ = ["TaskOptions", "BoundOptions", "OPTION_NAMES"]


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """How one task runs (none of it reaches the task's function).

    ``priority`` (higher first, default 0), ``tags`` (iterable of str, for breakers,
    selection and records), ``timeout`` (seconds per attempt), ``retry`` (a
    :class:`~workbench.execute.Retry`), ``after`` (futures or keys that must succeed
    first; keys may name tasks submitted later), ``resources`` (``{"cpu": slots,
    "memory": bytes}``), ``name`` (kind of task, for records and for learning memory use;
    default the function's name), ``key`` (unique id other tasks can name in ``after=``).
    """

    priority: float = 0
    tags: Iterable[str] | str = ()
    timeout: float | None = None
    retry: Retry | None = None
    after: Iterable[Any] | Any = ()
    resources: dict[str, float] | None = None
    name: str | None = None
    key: str | None = None

    def replace(self, **changes: Any) -> TaskOptions:
        """A copy with ``changes``; an unknown option name raises ``TypeError``."""
        _check_names(changes, "TaskOptions.replace()")
        return dataclasses.replace(self, **changes)


OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(TaskOptions))
DEFAULT_OPTIONS = TaskOptions()


def _check_names(opts: dict[str, Any], where: str) -> None:
    unknown = set(opts) - OPTION_NAMES
    if unknown:
        raise TypeError(f"{where} got unknown task option(s) {sorted(unknown)}; task options are "
                        f"{sorted(OPTION_NAMES)}.")


def make_options(where: str, options: TaskOptions | None = None, **opts: Any) -> TaskOptions:
    """``options`` updated with ``opts`` (``TypeError`` for a name that is not an option)."""
    _check_names(opts, where)
    if options is not None and not isinstance(options, TaskOptions):
        raise TypeError(f"{where}: options= takes a TaskOptions(...); got {options!r}")
    base = options or DEFAULT_OPTIONS
    return dataclasses.replace(base, **opts) if opts else base


class BoundOptions:
    """An executor with task options bound: ``ex.options(timeout=5).submit(fn, x, timeout=1)``
    runs ``fn(x, timeout=1)`` with a 5 s task timeout. Chain ``.options(...)`` to add more."""

    __slots__ = ("_executor", "_options")

    def __init__(self, executor: ThrottledExecutor, options: TaskOptions) -> None:
        self._executor = executor
        self._options = options

    @property
    def task_options(self) -> TaskOptions:
        return self._options

    def options(self, **opts: Any) -> BoundOptions:
        return BoundOptions(self._executor, make_options("options()", self._options, **opts))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> TaskFuture:
        """``fn(*args, **kwargs)`` with these options; every keyword goes to ``fn``."""
        return self._executor._submit(fn, args, kwargs, self._options)

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1, buffersize: int | None = None) -> Iterator[Any]:
        return self._executor.map(fn, *iterables, timeout=timeout, chunksize=chunksize, buffersize=buffersize,
                                  options=self._options)

    async def asubmit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return await self._executor._asubmit(fn, args, kwargs, self._options)

    def __repr__(self) -> str:
        return f"BoundOptions({self._options!r})"


"""Priority queue with linear ageing.

A waiting task's effective priority grows by one level every ``ageing`` seconds:
``effective = priority + (now - enqueued) / ageing``. Comparing two tasks at any common
``now`` only needs ``priority - enqueued / ageing``, which does not change while they
wait, so a plain binary heap on that key keeps the order exact without re-sorting.

Starvation bound: a task of priority ``p`` enqueued at ``t`` can only be overtaken by
tasks enqueued before ``t + ageing * (P - p)``, where ``P`` is the highest priority in
use. So it waits at most ``ageing * (P - p)`` plus the time to run the tasks already
ahead of it at that moment — however many higher-priority tasks keep arriving.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Any

__all__ = ["AgeingQueue"]


class AgeingQueue:
    """Max-priority queue with ageing; ties run first-in first-out. Not thread-safe."""

    def __init__(self, ageing: float | None = 10.0) -> None:
        self.ageing = ageing
        self._heap: list[list[Any]] = []
        self._entries: dict[int, list[Any]] = {}  # id(item) -> live heap entry
        self._seq = itertools.count()

    def _key(self, priority: float, enqueued: float) -> float:
        if self.ageing is None or math.isinf(self.ageing):
            return -priority
        return enqueued / self.ageing - priority

    def push(self, item: Any, priority: float, enqueued: float) -> None:
        entry = [self._key(priority, enqueued), next(self._seq), item, enqueued]
        self._entries[id(item)] = entry
        heapq.heappush(self._heap, entry)

    def remove(self, item: Any) -> bool:
        """Drop ``item``; O(1), the heap slot is skipped later (lazy deletion)."""
        entry = self._entries.pop(id(item), None)
        if entry is None:
            return False
        entry[2] = None
        return True

    def reprioritise(self, item: Any, priority: float) -> bool:
        """Change a queued item's priority, keeping the age it has already earned."""
        entry = self._entries.get(id(item))
        if entry is None:
            return False
        self.remove(item)
        self.push(item, priority, entry[3])
        return True

    def reprioritise_many(self, items: list[Any], priority: float) -> int:
        """Give many queued items one new priority (each keeps its age); returns how many
        were queued. Past a few items the keys are rewritten in place and the heap is
        rebuilt once (O(n), dropping lazily removed slots) instead of one push per item."""
        entries = [e for e in (self._entries.get(id(item)) for item in items) if e is not None]
        if len(entries) <= 32:
            for e in entries:
                self.reprioritise(e[2], priority)
            return len(entries)
        for e in entries:
            e[0] = self._key(priority, e[3])
        self._heap = [e for e in self._heap if e[2] is not None]
        heapq.heapify(self._heap)
        return len(entries)

    def _prune(self) -> None:
        while self._heap and self._heap[0][2] is None:
            heapq.heappop(self._heap)

    def peek(self) -> Any | None:
        self._prune()
        return self._heap[0][2] if self._heap else None

    def pop(self) -> Any:
        self._prune()
        entry = heapq.heappop(self._heap)
        del self._entries[id(entry[2])]
        return entry[2]

    def __contains__(self, item: Any) -> bool:
        return id(item) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[Any]:
        return [e[2] for e in self._entries.values()]

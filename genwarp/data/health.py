"""Missing / corrupt data: skip, count, warn once per file, summarise at the end of an epoch."""

from __future__ import annotations

import logging
import threading
import warnings
from collections import Counter

__all__ = [
    "CorruptDataError",
    "DataError",
    "DataHealth",
    "DataWarning",
    "DatasetLayoutError",
    "MissingDataError",
    "UnusableDataError",
]

logger = logging.getLogger("genwarp.data")


class DataError(Exception):
    """Base class of the data errors below.

    ``path`` names the offending file and ``kind`` the counter it is tallied under when a
    loader skips it (e.g. ``"missing_frame"``, ``"corrupt_image"``).
    """

    default_kind = "data_error"

    def __init__(self, message: str, *, path: object = None, kind: str | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.kind = kind or self.default_kind


class DatasetLayoutError(DataError):
    """A dataset root / layout is not what the loader expects (raised at construction)."""

    default_kind = "layout_error"


class MissingDataError(DataError):
    """A frame, sequence or video listed by the dataset is absent on disk."""

    default_kind = "missing_data"


class CorruptDataError(DataError):
    """A file exists but cannot be read (corrupt JPEG, truncated chunk, malformed camera file)."""

    default_kind = "corrupt_data"


class UnusableDataError(RuntimeError):
    """Most of the pairs a dataset was asked for so far could not be used: training or validation
    stops instead of carrying on with what is left (raised by :class:`~genwarp.data.PairDataset`;
    deliberately *not* a :class:`DataError`, so loops that skip bad pairs do not skip this)."""


class DataWarning(UserWarning):
    """Emitted once per offending file when a loader skips data."""


class DataHealth:
    """Per-dataset tally of skipped data.

    ``record(kind, path, reason)`` counts one event of ``kind`` (``"missing_frame"``,
    ``"corrupt_image"``, …) and emits one :class:`DataWarning` the first time ``path`` is seen.
    ``end_epoch()`` logs a one-line summary of the epoch's counts (each DataLoader worker keeps
    and logs its own tally) and returns it; ``totals`` accumulates over epochs.
    """

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.epoch_counts: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def record(self, kind: str, path: str, reason: str = "") -> None:
        with self._lock:
            self.epoch_counts[kind] += 1
            self.totals[kind] += 1
            first = str(path) not in self._warned
            self._warned.add(str(path))
        if first:
            msg = f"[{self.dataset}] skipping {kind.replace('_', ' ')}: {path}"
            warnings.warn(msg + (f" ({reason})" if reason else ""), DataWarning, stacklevel=3)

    def end_epoch(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self.epoch_counts)
            self.epoch_counts.clear()
        if counts:
            parts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items()))
            logger.warning("[%s] epoch summary: skipped %s", self.dataset, parts)
        return counts

    def summary(self) -> dict[str, int]:
        """All skips counted so far (every epoch)."""
        with self._lock:
            return dict(self.totals)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

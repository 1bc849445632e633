"""Several state stores behind one consumer: each partition listener call goes to every store.

A worker in ``inline`` mode has two stores, the accounts and the campaigns; the source knows one
partition owner and the runner one state backend, so ``Stores`` is both. A partition is resumed
only once every store has restored it, and a checkpoint flushes the stores in the order given
(each returns only when its writes are acknowledged): all of it still before the offsets.
"""

from __future__ import annotations

from typing import Protocol


class Store(Protocol):
    """A changelog-backed store: ``ChangelogState`` or ``CoordinationChangelog``."""

    def revoked(self, partitions: set[int]) -> None: ...

    def assigned(self, partitions: set[int]) -> None: ...

    @property
    def restoring(self) -> set[int]: ...

    def restore(self) -> set[int]: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Stores:
    """The stores of one worker, in checkpoint order."""

    def __init__(self, *stores: Store) -> None:
        self.stores = stores

    def revoked(self, partitions: set[int]) -> None:
        for store in self.stores:
            store.revoked(partitions)

    def assigned(self, partitions: set[int]) -> None:
        for store in self.stores:
            store.assigned(partitions)

    @property
    def restoring(self) -> set[int]:
        return set().union(*(store.restoring for store in self.stores))

    def restore(self) -> set[int]:
        """Partitions that no store has left to restore after this call (of those that had)."""
        before = self.restoring
        for store in self.stores:
            if store.restoring:
                store.restore()
        return before - self.restoring

    def flush(self) -> None:
        for store in self.stores:
            store.flush()

    def close(self) -> None:
        for store in self.stores:
            store.close()

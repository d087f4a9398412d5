"""Pure work spread over worker processes, safely from a Dagster step, a script or a notebook."""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_in_processes(
    fn: Callable[[T], R], items: list[T], workers: int, *, chunksize: int = 1
) -> Iterator[R]:
    """``map(fn, items)`` computed by ``workers`` spawned processes, results in order.

    ``fn`` must be a module-level function and its work pure (arguments in, a result out). If a
    worker dies (out of memory, killed), the items not yet returned are computed in this process
    instead, with a warning: slower, never lost."""
    # spawn, not fork: the caller (a Dagster step) has threads, and a forked child of a threaded
    # process can deadlock on a lock some thread held at fork time.
    ctx = multiprocessing.get_context("spawn")
    done = 0
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            with _main_module_hidden():  # map() submits every task, so the workers start in here
                results = pool.map(fn, items, chunksize=chunksize)
            for result in results:
                yield result
                done += 1
    except BrokenProcessPool as e:
        warnings.warn(
            f"a worker process died ({e}); computing the remaining {len(items) - done} items in this process",
            RuntimeWarning,
            stacklevel=2,
        )
        yield from map(fn, items[done:])


def chunks(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices of ``range(n)`` of near-equal size (none empty)."""
    parts = max(1, min(parts, n))
    bounds = [round(n * k / parts) for k in range(parts + 1)]
    return [slice(bounds[k], bounds[k + 1]) for k in range(parts) if bounds[k + 1] > bounds[k]]


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """A spawned worker first re-imports its parent's ``__main__`` (by file or module name). The work
    needs nothing from it, and a ``__main__`` that cannot be imported twice (a script without the
    ``if __name__ == "__main__":`` guard, a notebook, a Streamlit test script) would kill every
    worker, so the workers are started while ``__main__`` is a blank module."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main

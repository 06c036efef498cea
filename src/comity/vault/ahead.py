"""Preparing the next small files of a folder while the current one waits on the disk.

Taking in a small file is mostly waiting: for its blob's ``fsync``, its directory's, its
reads. :func:`in_order` runs the work for the next few small files on helper threads
while the caller goes on with the earlier ones, and gives the results in the order of the
inputs, so a caller sees exactly what it would see doing the work itself. A large file is
worked on the caller's thread when its turn comes: its encryption already keeps a helper
thread busy, two at once would double the memory, and an interrupt stops it as before.
Results worked out ahead for inputs that are never given (the run stopped at an earlier
one) are handed to ``discard``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

AHEAD_FILES = 8
"""Inputs looked at ahead of the one being given."""
AHEAD_THREADS = 2
"""Helper threads: the machine's waits overlap with two; more only contend for the GIL."""

Input = TypeVar("Input")
Result = TypeVar("Result")


def in_order(
    inputs: Iterable[Input],
    work: Callable[[Input], Result],
    *,
    ahead: Callable[[Input], bool],
    discard: Callable[[Result], None],
) -> Generator[Result, None, None]:
    """``work(input)`` for each input, in order; inputs for which ``ahead`` is true may be
    worked on before their turn, on a helper thread. An exception from ``work`` comes when
    that input's turn comes, and ends the run."""
    source = iter(inputs)
    waiting: deque[tuple[Input, Future[Result] | None]] = deque()
    with ThreadPoolExecutor(AHEAD_THREADS, thread_name_prefix="comity-ahead") as pool:

        def top_up() -> None:
            for item in islice(source, AHEAD_FILES - len(waiting)):
                waiting.append((item, pool.submit(work, item) if ahead(item) else None))

        try:
            top_up()
            while waiting:
                item, future = waiting.popleft()
                top_up()
                yield work(item) if future is None else future.result()
        finally:
            for _, future in waiting:
                if future is not None and not future.cancel() and future.exception() is None:
                    discard(future.result())

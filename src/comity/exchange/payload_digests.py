"""The SHA-256 of each payload being received, taken while its chunks arrive, so that
completing a payload need not read it all again.

A sender sends chunks about in order. Once a chunk is written and recorded, the
receiving process hands it to :meth:`RunningDigests.add`; each payload's digest takes
in, in order, every chunk that continues it (read back from the file, which the page
cache still holds). When the last chunk is in, :meth:`~RunningDigests.take` gives the
whole ciphertext's SHA-256. The state lives in the web app of one process (made by
:func:`comity.web.app.create_app`): after a restart, or when another process of the
node received some of the chunks, a digest cannot continue, and completion reads the
file through instead (:func:`comity.exchange.payload_files.file_sha256`). Either way
the bytes hashed are those on disk.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from comity.exchange.payload_files import read_at
from comity.exchange.payload_format import Manifest


@dataclass
class _Running:
    """One payload's digest so far: the chunks before ``next`` are in it; ``waiting``
    are recorded chunks after a gap."""

    sha256: Any = field(default_factory=hashlib.sha256)
    next: int = 0
    waiting: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RunningDigests:
    """The running digests of the payloads one process is receiving."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: dict[str, _Running] = {}

    def add(self, manifest: Manifest, number: int, data: bytes, descriptor: int) -> None:
        """Chunk ``number`` of ``manifest``'s payload, ``data``, is in the open file
        ``descriptor``, durable and recorded."""
        with self._lock:
            running = self._payloads.setdefault(manifest.payload_id, _Running())
        with running.lock:
            if number != running.next:
                running.waiting.add(number)
                return
            running.sha256.update(data)
            running.next += 1
            while running.next in running.waiting:
                running.waiting.discard(running.next)
                offset, length = manifest.chunk_span(running.next)
                running.sha256.update(read_at(descriptor, offset, length))
                running.next += 1

    def take(self, payload_id: str, chunks: int) -> str | None:
        """The SHA-256 of the whole payload if all its ``chunks`` went into it, else
        ``None``; the payload is forgotten either way."""
        with self._lock:
            running = self._payloads.pop(payload_id, None)
        if running is None:
            return None
        with running.lock:
            return running.sha256.hexdigest() if running.next == chunks else None

"""Writing files the app produces (claim workbooks, reports, month-end packs, print output, uploads) safely."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike[str], mode: int = 0o600) -> Iterator[IO[bytes]]:
    """Yield a binary file to write `target` through: a temporary file in the same folder that is flushed,
    fsynced and renamed over `target` only when the block ends without an error, so a reader never sees half a
    file. A full disk shows up at flush or close: then (or on any error) the temporary file is removed, `target`
    is left as it was and the error propagates. The file is created with `mode` (patient data: 0600).
    """
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (a crash right after could otherwise lose the new name)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> None:
    with atomic_write(target, mode) as handle:
        handle.write(data)

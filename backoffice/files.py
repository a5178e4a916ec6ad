"""Writing files the app produces (claim workbooks, reports, month-end packs, print output, uploads) safely.

Everything the app writes may hold patient data, so it is private to the app's user whatever the umask: files
0600, the folders the app makes 0700 (`private_folder`), the SQLite database file 0600 before SQLite first opens it
(`private_sqlite_file`; SQLite gives its journal and WAL files the database file's mode).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(folder: str | os.PathLike[str], *, own: bool = True) -> Path:
    """Make `folder` and its missing parents 0700 (mkdir's mode is filtered by the umask, so each is chmodded).
    `own`: the folder is the app's own (instance, claims, print output), so an existing one is set to 0700 too; a
    folder someone named for an export (`--out`) keeps its mode, only the folders made for it are private."""
    path = Path(folder)
    missing = []
    parent = path
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    for made in missing:
        made.chmod(FOLDER_MODE)
    if own and not missing:
        with contextlib.suppress(PermissionError):  # not ours to change (owned by another user): leave it
            path.chmod(FOLDER_MODE)
    return path


def private_file(path: str | os.PathLike[str], mode: int = FILE_MODE) -> Path:
    """Create `path` empty with `mode` when missing (its folder as private_folder makes it), else set its mode."""
    target = Path(path)
    private_folder(target.parent, own=False)
    descriptor = os.open(target, os.O_RDONLY | os.O_CREAT, mode)
    try:
        with contextlib.suppress(PermissionError):  # an existing file of another user: not ours to change
            os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)
    return target


def sqlite_file(uri: str, instance_path: str | os.PathLike[str]) -> Path | None:
    """The file an SQLAlchemy SQLite URI names (a relative path is under instance/, as Flask-SQLAlchemy resolves
    it); None for other databases and for in-memory ones."""
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:") \
            or url.query.get("mode") == "memory":
        return None
    path = Path(database)
    return path if path.is_absolute() else Path(instance_path) / path


def private_sqlite_file(uri: str, instance_path: str | os.PathLike[str]) -> Path | None:
    """Create the SQLite database file 0600 before SQLite does (it would follow the umask: 0644), or make an
    existing one 0600. SQLite opens an empty file as an empty database."""
    path = sqlite_file(uri, instance_path)
    if path is not None:
        private_file(path)
    return path


def scratch_file(folder: str | os.PathLike[str], suffix: str = "") -> Path:
    """A new empty file 0600 in `folder` (made private, 0700) for one download built before it is sent (a report,
    a list export); the caller removes it."""
    descriptor, name = tempfile.mkstemp(dir=private_folder(folder), suffix=suffix)
    os.close(descriptor)
    return Path(name)


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike[str], mode: int = 0o600) -> Iterator[IO[bytes]]:
    """Yield a binary file to write `target` through: a temporary file in the same folder that is flushed,
    fsynced and renamed over `target` only when the block ends without an error, so a reader never sees half a
    file. A full disk shows up at flush or close: then (or on any error) the temporary file is removed, `target`
    is left as it was and the error propagates. The file is created with `mode` (patient data: 0600).
    """
    path = Path(target)
    private_folder(path.parent, own=False)
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


class _SpooledDirectory:
    """A ZipFile's `filelist` kept in a scratch file: each finished entry's ZipInfo (its name, CRC, sizes and
    offset: what the central directory at the end of the ZIP needs) is written there with marshal (plain values,
    nothing that runs when read back) instead of being kept as an object, and read back one entry at a time when
    ZipFile.close() writes the central directory. While writing, zipfile (3.11) appends finished entries to
    `filelist`, takes its len() and iterates it once at close; nothing else."""

    _SLOTS = zipfile.ZipInfo.__slots__

    def __init__(self, scratch: Path):
        self._file = scratch.open("w+b")
        self._count = 0

    def append(self, info: zipfile.ZipInfo) -> None:
        marshal.dump({slot: getattr(info, slot) for slot in self._SLOTS if hasattr(info, slot)}, self._file)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[zipfile.ZipInfo]:
        self._file.flush()
        self._file.seek(0)
        for _ in range(self._count):
            info = zipfile.ZipInfo.__new__(zipfile.ZipInfo)
            for slot, value in marshal.load(self._file).items():  # noqa: S302 - our own file, written above
                setattr(info, slot, value)
            yield info
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()


class _NoNames(dict):
    """ZipFile.NameToInfo that keeps no names (they are the central directory's): the caller's names are unique."""

    def __setitem__(self, name: str, info: zipfile.ZipInfo) -> None:
        return None


@contextlib.contextmanager
def flat_zip(handle: IO[bytes], scratch: str | os.PathLike[str]) -> Iterator[zipfile.ZipFile]:
    """A ZipFile to write to `handle` whose memory stays flat however many entries it gets: Python's keeps a ZipInfo
    per entry (about 500 bytes) until it closes, 3 MB for a chain's month of invoices; this one keeps them in the
    file `scratch` (removed after). For writing only, with unique entry names (no "duplicate name" check)."""
    path = Path(scratch)
    directory = _SpooledDirectory(path)
    try:
        with zipfile.ZipFile(handle, "w") as archive:
            archive.filelist = directory  # type: ignore[assignment]
            archive.NameToInfo = _NoNames()
            yield archive
    finally:
        directory.close()
        path.unlink(missing_ok=True)

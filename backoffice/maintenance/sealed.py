"""An encrypted stream for backups: Fernet tokens over 1 MiB chunks, so a backup of any size never has to fit in
memory.

Fernet authenticates each token, but tokens on their own could be reordered, dropped or cut off at the end. So each
chunk's plaintext starts with its index and a "last chunk" flag: reading checks the indexes run 0, 1, 2, ... and
that the stream ends exactly at the chunk flagged last. A swapped, removed or truncated chunk fails the read.

Layout: MAGIC, then records of a 4-byte big-endian length and that many bytes of Fernet token.
Keys: BACKUP_KEY holds one Fernet key, or several separated by commas (MultiFernet): the first encrypts, every one
decrypts, so the key can be rotated while older backups stay readable.
"""

from __future__ import annotations

import io
import struct
from typing import IO

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MAGIC = b"BACKOFFICE-BACKUP-1\n"
CHUNK_SIZE = 1 << 20
_LENGTH = struct.Struct(">I")
_HEADER = struct.Struct(">QB")  # chunk index, 1 when it is the last chunk
MAX_TOKEN = 4 * CHUNK_SIZE  # a token is about 4/3 of its chunk; anything longer is not ours


class SealError(Exception):
    """The key is unusable, or the backup is not one, was made with another key, or was changed or cut short."""


def fernet_from(keys: str) -> MultiFernet:
    """A MultiFernet from one key or several separated by commas; SealError when none is a valid Fernet key."""
    parts = [part.strip() for part in (keys or "").split(",") if part.strip()]
    if not parts:
        raise SealError("BACKUP_KEY is not set. Create one with: python -c \"from cryptography.fernet import "
                        "Fernet; print(Fernet.generate_key().decode())\" and keep it apart from the backups.")
    try:
        return MultiFernet([Fernet(part.encode()) for part in parts])
    except (ValueError, TypeError) as error:
        raise SealError("BACKUP_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes).") from error


class SealingWriter(io.RawIOBase):
    """A write-only file: what is written goes out encrypted to `target`; `close()` writes the last chunk."""

    def __init__(self, target: IO[bytes], fernet: MultiFernet) -> None:
        super().__init__()
        self._target, self._fernet = target, fernet
        self._buffer = bytearray()
        self._index = 0
        self._target.write(MAGIC)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK_SIZE:
            self._emit(bytes(self._buffer[:CHUNK_SIZE]), last=False)
            del self._buffer[:CHUNK_SIZE]
        return len(data)

    def _emit(self, chunk: bytes, last: bool) -> None:
        token = self._fernet.encrypt(_HEADER.pack(self._index, int(last)) + chunk)
        self._target.write(_LENGTH.pack(len(token)) + token)
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


class UnsealingReader(io.RawIOBase):
    """A read-only file over a sealed stream: decrypts and checks chunk by chunk (see the module's doc)."""

    def __init__(self, source: IO[bytes], fernet: MultiFernet) -> None:
        super().__init__()
        self._source, self._fernet = source, fernet
        self._buffer = b""
        self._offset = 0
        self._index = 0
        self._ended = False
        if source.read(len(MAGIC)) != MAGIC:
            raise SealError("This is not a backup made by `flask backup create`.")

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        prefix = self._source.read(_LENGTH.size)
        if len(prefix) < _LENGTH.size:
            raise SealError("The backup is cut short: its last part is missing.")
        (length,) = _LENGTH.unpack(prefix)
        if length > MAX_TOKEN:
            raise SealError("The backup is damaged (a part has an impossible length).")
        token = self._source.read(length)
        if len(token) < length:
            raise SealError("The backup is cut short: its last part is missing.")
        try:
            plain = self._fernet.decrypt(token)
        except InvalidToken as error:
            raise SealError("The backup cannot be decrypted: another BACKUP_KEY made it, or it was changed.") \
                from error
        index, last = _HEADER.unpack_from(plain)
        if index != self._index:
            raise SealError("The backup's parts are out of order or one is missing: it was changed.")
        self._index += 1
        if last:
            self._ended = True
            if self._source.read(1):
                raise SealError("The backup has data after its last part: it was changed.")
        return plain[_HEADER.size:]

    def readinto(self, buffer) -> int:
        while self._offset >= len(self._buffer) and not self._ended:
            self._buffer, self._offset = self._next_chunk(), 0
        count = min(len(buffer), len(self._buffer) - self._offset)
        buffer[:count] = self._buffer[self._offset:self._offset + count]
        self._offset += count
        return count

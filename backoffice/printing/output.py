"""Batch output: many single PDFs -> one merged PDF and one ZIP, written so that no half file is ever seen.

Plain data in, files out: no Flask, no database. Both files are written to temporary names in the target
folder, flushed to disk and closed (a full disk shows up only then), and only then renamed to their final
names. Any failure removes the temporary files, so a reader finds either both complete files or nothing new.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader, PdfWriter


@dataclass(frozen=True)
class PrintedDocument:
    """One document of a batch: its PDF and where it goes."""

    filename: str      # name inside the ZIP, e.g. "factuur-2026-00001-de-vries.pdf"
    title: str         # bookmark in the merged PDF, e.g. "Factuur 2026-00001 - A. de Vries"
    pdf: bytes
    day: date          # the document date; also the ZIP entry's timestamp (same input, same ZIP)
    patient_id: int | None = None
    subject: str = ""  # access-log subject, e.g. "invoice 2026-00001"


def slug(text: str) -> str:
    """'Anna van der Berg-Öztürk' -> 'anna-van-der-berg-ozturk': safe in any file system and ZIP tool."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "x"


def unique_names(names: Sequence[str]) -> list[str]:
    """Keep ZIP entry names unique: a second 'a.pdf' becomes 'a-2.pdf'."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}-{count}.{suffix}" if dot else f"{name}-{count}"
        result.append(name)
    return result


def write_merged_pdf(documents: Sequence[PrintedDocument], target: BinaryIO, title: str = "") -> int:
    """All documents one after the other, each with a bookmark; returns the page count."""
    writer = PdfWriter()
    for document in documents:
        writer.append(PdfReader(io.BytesIO(document.pdf)), outline_item=document.title, import_outline=False)
    if title:
        writer.add_metadata({"/Title": title, "/Producer": "backoffice batch printing (pypdf)"})
    writer.write(target)
    return len(writer.pages)


def write_zip(documents: Sequence[PrintedDocument], target: BinaryIO) -> None:
    # PDFs are compressed inside already: storing them is as small and much faster than deflating again.
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, document in zip(unique_names([d.filename for d in documents]), documents, strict=True):
            info = zipfile.ZipInfo(name, date_time=(document.day.year, document.day.month, document.day.day,
                                                    0, 0, 0))
            info.external_attr = 0o640 << 16
            archive.writestr(info, document.pdf)


@contextlib.contextmanager
def atomic_files(*paths: Path) -> Iterator[list[BinaryIO]]:
    """Open temporary files beside `paths`; on a clean exit fsync, close and rename them all to `paths`.

    On any error the temporary files are removed and none of `paths` is created or replaced.
    """
    folders = {path.parent for path in paths}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    handles: list[tuple[BinaryIO, Path]] = []
    renamed: list[Path] = []
    try:
        for path in paths:
            fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            handles.append((os.fdopen(fd, "wb"), Path(temp_name)))
        yield [handle for handle, _ in handles]
        for handle, _ in handles:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()  # a full disk may only be reported here
        for (_, temp), path in zip(handles, paths, strict=True):
            os.replace(temp, path)
            renamed.append(path)
    except BaseException:
        for path in renamed:  # the set is incomplete: a PDF without its ZIP would be mistaken for a result
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        for handle, temp in handles:
            with contextlib.suppress(OSError):
                handle.close()
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        raise


def write_batch(documents: Sequence[PrintedDocument], pdf_path: Path, zip_path: Path, title: str = "") -> int:
    """The merged PDF and the ZIP of single PDFs, both complete or neither; returns the merged page count."""
    if not documents:
        raise ValueError("nothing to write: the batch has no documents")
    with atomic_files(pdf_path, zip_path) as (pdf_file, zip_file):
        pages = write_merged_pdf(documents, pdf_file, title)
        write_zip(documents, zip_file)
    return pages

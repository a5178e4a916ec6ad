"""Batch output: many single PDFs -> one merged PDF and one ZIP, written so that no half file is ever seen.

Plain data in, files out: no Flask, no database. Both files are written to temporary names in the target
folder, flushed to disk and closed (a full disk shows up only then), and only then renamed to their final
names. Any failure removes the temporary files, so a reader finds either both complete files or nothing new.
"""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, cast

import pikepdf

from ..files import atomic_write


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
    """All documents one after the other, each with a bookmark; returns the page count.

    pikepdf (qpdf) copies the pages of tagged PDF/A documents without walking their structure trees: 200 tagged
    invoices merge in about 0.25 s, where pypdf took 3 s."""
    with contextlib.ExitStack() as sources, pikepdf.new() as merged:  # qpdf reads copied streams at save time
        with merged.open_outline() as outline:
            for document in documents:
                source = sources.enter_context(pikepdf.open(io.BytesIO(document.pdf)))
                start = len(merged.pages)
                merged.pages.extend(source.pages)
                outline.root.append(pikepdf.OutlineItem(document.title, start))
        if title:
            merged.docinfo["/Title"] = title
            merged.docinfo["/Producer"] = "backoffice batch printing (pikepdf)"
        merged.save(target, deterministic_id=True)
        return len(merged.pages)


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
    """One files.atomic_write per path: on a clean exit each is fsynced and renamed to its path.

    On any error the temporary files are removed and none of `paths` is left: a path already renamed when a later
    one fails is removed again (a PDF without its ZIP would be mistaken for a result).
    """
    renamed: list[Path] = []
    try:
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(_noting(path, renamed)) for path in paths]
    except BaseException:
        for path in renamed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise


@contextlib.contextmanager
def _noting(path: Path, renamed: list[Path]) -> Iterator[BinaryIO]:
    with atomic_write(path) as handle:
        yield cast(BinaryIO, handle)  # the file atomic_write opens with os.fdopen(..., "wb")
    renamed.append(path)  # reached only once atomic_write renamed it


def write_batch(documents: Sequence[PrintedDocument], pdf_path: Path, zip_path: Path, title: str = "") -> int:
    """The merged PDF and the ZIP of single PDFs, both complete or neither; returns the merged page count."""
    if not documents:
        raise ValueError("nothing to write: the batch has no documents")
    with atomic_files(pdf_path, zip_path) as (pdf_file, zip_file):
        pages = write_merged_pdf(documents, pdf_file, title)
        write_zip(documents, zip_file)
    return pages

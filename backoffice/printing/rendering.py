"""Rendering many documents on every core: a process pool fed plain document data (never ORM objects).

WeasyPrint is CPU-bound and holds the GIL, so threads would not help: each worker is a separate process that
imports WeasyPrint and builds the shared FontConfiguration and stylesheets once (documents.pdf.warm_up) and
then renders document after document. Workers are started with "spawn": the web server and the queue
consumer have threads and open database connections, which a forked child would inherit in whatever state
they were in.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

# Below this many documents starting worker processes (about a second each) costs more than it saves; callers
# that leave the number of workers to the default render such small batches in their own process.
POOL_THRESHOLD = 4


def default_workers() -> int:
    """PRINT_WORKERS, or one per core up to two (the clinic's machine has two)."""
    configured = os.environ.get("PRINT_WORKERS", "").strip()
    if configured:
        return max(0, int(configured))
    return min(2, os.cpu_count() or 1)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """Ask Linux to kill this render process when the process that started it dies, however it dies.

    A pool worker waits on a pipe whose writing end it holds itself (spawn hands it both ends), so it would never
    notice that the print worker was killed (kill -9, the OOM killer, systemd's final SIGKILL): it would linger and
    finish rendering patients' documents for nobody. The signal follows the *thread* that started the process; the
    pool starts its processes from the thread that submits the work, which lives as long as the pool.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):  # no usable libc: fall back to the pool's own shutdown
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)  # the parent died before the signal was asked for: nobody will send it


def _warm_worker() -> None:
    _die_with_parent()
    from ..documents import pdf

    pdf.warm_up()


def render_one(kind: str, doc: Any) -> bytes:
    """One document as PDF bytes (kind: invoice, credit_note, declaration, aftercare)."""
    from ..documents import pdf

    return pdf.html_to_pdf(pdf.render_html(kind, doc), "invoice" if kind == "credit_note" else kind)


class RenderPool:
    """A pool that stays up for several batches: a job that renders chunk after chunk (bulk invoicing stores and
    commits each chunk before numbering the next) keeps its warm workers instead of starting new ones per chunk.

    `submit(kind, doc)` returns a Future per document; workers=0 renders in this process (the Future is done when
    `submit` returns). Worker processes start on the first submit only, so a batch with nothing to render starts
    none. Use it as a context manager: leaving it cancels what was not rendered and stops the workers.
    """

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, kind: str, doc: Any) -> Future[bytes]:
        if self.workers == 0:
            future: Future[bytes] = Future()
            try:
                future.set_result(render_one(kind, doc))
            except Exception as error:  # handed to whoever reads the result, as the pool does
                future.set_exception(error)
            return future
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_warm_worker)
        return self._pool.submit(render_one, kind, doc)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def render_all(kind: str, docs: Iterable[Any], workers: int | None = None,
               on_rendered: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """PDF bytes of `docs`, in their order. `docs` may be a generator: documents are handed to the workers
    while it is still producing them, so building (database) and rendering overlap.

    workers=0 renders in this process. `on_rendered(n)` is called after each document with the number done, and
    only once `docs` is exhausted: a caller may commit in it without expiring objects its generator still reads.
    """
    workers = default_workers() if workers is None else workers
    if workers == 0:
        docs = list(docs)  # build them all first, as with the pool: progress comes only from rendering
        for done, doc in enumerate(docs, start=1):
            pdf = render_one(kind, doc)
            if on_rendered:
                on_rendered(done)
            yield pdf
        return
    with RenderPool(workers) as pool:
        futures: list[Future[bytes]] = []
        try:
            for doc in docs:
                futures.append(pool.submit(kind, doc))
            for done, future in enumerate(futures, start=1):
                pdf = future.result()
                if on_rendered:
                    on_rendered(done)
                yield pdf
        finally:
            for future in futures:  # a failure or an abandoned generator: do not render the rest
                future.cancel()

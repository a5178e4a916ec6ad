"""Gunicorn's settings for backoffice (`make serve`; the README's systemd unit uses the same file):
`gunicorn --config backoffice/gunicorn_conf.py backoffice.wsgi:app`.

Environment:
- HOST, PORT: where to listen (default 127.0.0.1:5000; keep it on 127.0.0.1 behind the TLS proxy);
- WEB_CONCURRENCY: the number of worker processes (default 2 x cores + 1, at most MAX_WORKERS);
- GUNICORN_TIMEOUT: seconds a request may take before its worker is restarted (default 60).

The access log never holds a query string (a search word may be a BSN) or the referring page's (which may hold
one): it shows the method, the path, the status, the size, the duration and the request id. /healthz is left out.
Every line of the error log carries the request id of the request it was written in (backoffice/request_ids.py).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from gunicorn.glogging import Logger

from backoffice import request_ids

MAX_WORKERS = 8  # each worker holds its own database pool and about 100 MB; a clinic needs few


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (a container's share)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cores: int | None = None) -> int:
    """2 x cores + 1, gunicorn's advice for sync workers, capped; WEB_CONCURRENCY wins when set."""
    configured = os.environ.get("WEB_CONCURRENCY", "").strip()
    if configured:
        return max(1, int(configured))
    return min(2 * (cores or _cores()) + 1, MAX_WORKERS)


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = default_workers()
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30  # on SIGTERM a worker finishes the request it serves (an invoice being issued) first
keepalive = 5
# Restart each worker now and then (jittered, so not all at once): bounds memory growth in a long-running process.
max_requests = 2000
max_requests_jitter = 200
# The worker heartbeat in memory, not on a disk that may be slow or full.
# (gunicorn's documented advice; the files there are its own, opened exclusively and unlinked at once)
SHARED_MEMORY = "/dev/shm"  # noqa: S108
if os.path.isdir(SHARED_MEMORY):
    worker_tmp_dir = SHARED_MEMORY
# No control socket (gunicorn 25.1+): nothing here manages workers at run time, and two servers on one machine
# (tests, staging) would fight over the one default path.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
proc_name = "backoffice"
# method, path (no query), status, bytes, milliseconds, request id; the client address is the real one when
# TRUSTED_PROXIES is set (ProxyFix rewrites REMOTE_ADDR before this line is written).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" rid=%({x-request-id}o)s'

QUIET_PATHS = frozenset({"/healthz"})


class BackofficeLogger(Logger):
    """Gunicorn's logger without query strings and health checks, with the request id in every error-log line."""

    error_fmt = r"%(asctime)s [%(process)d] [%(levelname)s] [%(request_id)s] %(message)s"

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            request_ids.attach(handler)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # The request line and the referrer would bring the query string back in.
        atoms["r"] = f"{atoms['m']} {atoms['U']} {atoms['H']}"
        atoms["q"] = ""
        atoms["f"] = _without_query(atoms.get("f", "-"))
        if "{referer}i" in atoms:
            atoms["{referer}i"] = atoms["f"]
        return atoms

    def access(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO") in QUIET_PATHS:
            return
        super().access(resp, req, environ, request_time)


def _without_query(url: str) -> str:
    if not url or url == "-":
        return url
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


logger_class = BackofficeLogger


def post_worker_init(worker) -> None:
    """Pay WeasyPrint's start-up (fonts, stylesheets: about a second) before the first request, not during it."""
    from backoffice.documents import pdf

    try:
        pdf.warm_up()
    except Exception:  # a missing font library shows up on the first print with its own message
        worker.log.exception("warming up the PDF renderer failed")

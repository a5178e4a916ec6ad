"""The WSGI entry point for a production server: `gunicorn --config backoffice/gunicorn_conf.py backoffice.wsgi:app`
(what `make serve` runs). The app is built from the environment (config.py), exactly as `flask run` builds it; with
BACKOFFICE_ENV=production, config.py refuses to start without real keys."""

from __future__ import annotations

from . import create_app

app = create_app()

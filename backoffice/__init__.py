"""backoffice: the back office of a Dutch skin-therapy clinic."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from flask.typing import ResponseReturnValue
from sqlalchemy import event
from sqlalchemy.engine import Engine

import config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class BackofficeFlask(Flask):
    """Flask with one unit of work per request: the view runs, then the request commits once, or rolls back when
    the view raised (see unit_of_work.py; the error handlers in errors.py answer the exception)."""

    def dispatch_request(self) -> ResponseReturnValue:
        from . import unit_of_work

        return unit_of_work.run(super().dispatch_request)


def create_app(test_config: dict | None = None) -> Flask:
    app = BackofficeFlask(
        __name__,
        instance_path=os.environ.get("BACKOFFICE_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if test_config is None:
        app.config.from_mapping(config.load(app.instance_path))
    else:
        app.config.from_mapping(config.load_defaults() | test_config)

    from . import request_guards

    request_guards.init_app(app)  # before any blueprint: it bounds the `int` converter of every route

    from .extensions import bootstrap, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    bootstrap.init_app(app)

    from . import security

    security.init_app(app)
    from . import i18n, labels

    i18n.init_app(app)
    labels.init_app(app)

    from .access_log.views import bp as access_log_bp
    from .auth.views import bp as auth_bp
    from .authorisations.views import bp as authorisations_bp
    from .catalogue.views import bp as catalogue_bp
    from .credentials.views import bp as credentials_bp
    from .insurers.views import bp as insurers_bp
    from .intakes.views import bp as intakes_bp
    from .main.views import bp as main_bp
    from .patients.views import bp as patients_bp
    from .practice.views import bp as practice_bp
    from .referrals.views import bp as referrals_bp
    from .therapists.views import bp as therapists_bp
    from .treatments.views import bp as treatments_bp
    from .users.views import bp as users_bp

    for blueprint in (main_bp, auth_bp, patients_bp, therapists_bp, insurers_bp, users_bp, practice_bp,
                      access_log_bp):
        app.register_blueprint(blueprint)
    for blueprint in (intakes_bp, referrals_bp, authorisations_bp, catalogue_bp):
        app.register_blueprint(blueprint)
    for blueprint in (treatments_bp, credentials_bp):
        app.register_blueprint(blueprint)

    from .invoicing.views import bp as invoices_bp

    app.register_blueprint(invoices_bp)

    from .aftercare.views import bp as aftercare_bp
    from .clinical.views import bp as clinical_bp

    app.register_blueprint(aftercare_bp)
    app.register_blueprint(clinical_bp)

    from .printing import cli as printing_cli
    from .printing import tasks as printing_tasks
    from .printing.views import bp as printing_bp

    app.register_blueprint(printing_bp)
    printing_cli.init_app(app)
    printing_tasks.init_app(app)

    from .claims import cli as claims_cli
    from .claims.views import bp as claims_bp

    app.register_blueprint(claims_bp)
    claims_cli.init_app(app)

    from .reporting import cli as reporting_cli
    from .reporting.views import bp as reports_bp

    app.register_blueprint(reports_bp)
    reporting_cli.init_app(app)

    from . import cli, errors, formatting

    cli.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    logging.getLogger("backoffice").setLevel(logging.INFO)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, connection_record):
    # SQLite enforces foreign keys only when asked, on every connection.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

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
    from . import files

    files.private_folder(app.instance_path)  # patient data lives here: 0700 whatever the umask
    if test_config is None:
        app.config.from_mapping(config.load(app.instance_path))
    else:
        app.config.from_mapping(config.load_defaults() | test_config)
    # Before SQLite (migrations, `make run`) creates the database file with the umask's 0644.
    files.private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # request.remote_addr (throttling, access log), scheme and host as the client sent them, read from
        # X-Forwarded-* set by exactly this many proxies; the rest of those headers is the client's and ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    from . import request_guards

    request_guards.init_app(app)  # before any blueprint: it bounds the `int` converter of every route

    from . import request_ids

    request_ids.init_app(app)  # an id for every request, in its log lines and response header

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

    from .invoice_runs.views import bp as invoice_runs_bp
    from .invoicing.views import bp as invoices_bp

    app.register_blueprint(invoices_bp)
    app.register_blueprint(invoice_runs_bp)

    from .aftercare.views import bp as aftercare_bp
    from .clinical.views import bp as clinical_bp

    app.register_blueprint(aftercare_bp)
    app.register_blueprint(clinical_bp)

    from .care import access as care_access
    from .care.views import bp as care_bp

    app.register_blueprint(care_bp)
    care_access.init_app(app)  # the care-relationship check on every patient route, after the permission check

    from .printing import cli as printing_cli
    from .printing import tasks as printing_tasks
    from .printing.views import bp as printing_bp

    app.register_blueprint(printing_bp)
    printing_cli.init_app(app)
    printing_tasks.init_app(app)

    from .mail.views import bp as mail_bp
    from .mail.views import templates_bp as mail_templates_bp

    app.register_blueprint(mail_bp)
    app.register_blueprint(mail_templates_bp)

    from .reminders import cli as reminders_cli
    from .reminders.views import bp as reminders_bp

    app.register_blueprint(reminders_bp)
    reminders_cli.init_app(app)

    from .health.views import bp as health_bp

    app.register_blueprint(health_bp)

    from .claims import cli as claims_cli
    from .claims.views import bp as claims_bp

    app.register_blueprint(claims_bp)
    claims_cli.init_app(app)

    from .reporting import cli as reporting_cli
    from .reporting.views import bp as reports_bp

    app.register_blueprint(reports_bp)
    reporting_cli.init_app(app)

    from .maintenance import cli as maintenance_cli
    from .maintenance.views import bp as patient_records_bp

    app.register_blueprint(patient_records_bp)
    maintenance_cli.init_app(app)

    from .timeline.views import bp as timeline_bp

    app.register_blueprint(timeline_bp)

    if app.config.get("BENCH_BARE_ROUTES"):  # bench/load.py only; refused in production (bench_routes.py)
        from . import bench_routes

        bench_routes.init_app(app)

    from . import cli, errors, formatting

    cli.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    logging.getLogger("backoffice").setLevel(logging.INFO)
    return app


@event.listens_for(Engine, "connect")
def _connection_settings(dbapi_connection, connection_record):
    # SQLite enforces foreign keys only when asked, on every connection. And `REPLACE INTO` / `INSERT OR REPLACE`
    # deletes the row it conflicts with without firing DELETE triggers unless recursive triggers are on: with them
    # the guards (models/guards.py) refuse replacing an access log entry or an issued invoice too.
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.close()
    elif module.startswith("psycopg"):
        # PostgreSQL's JIT compiles a query the planner thinks costly (on by default above a cost of 100,000) and,
        # for the app's queries, spends more on compiling than it saves: the home page's list of claimable lines
        # on a chain's data took 1.35 s, 0.9 s of it compiling, where the query itself runs in 0.45 s. Off for the
        # app's connections (a session setting: the server's own default is left alone); committed, so that the
        # pool's rollback on check-in does not undo it.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()

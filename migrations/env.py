"""Alembic environment for Flask-Migrate. Uses `db.engine` (db.get_engine() is deprecated in Flask-SQLAlchemy 3.1)."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def _db():
    return current_app.extensions["migrate"].db


def _url() -> str:
    return _db().engine.url.render_as_string(hide_password=False).replace("%", "%%")


config.set_main_option("sqlalchemy.url", _url())
target_metadata = _db().metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def process_revision_directives(context, revision, directives):
        # Never write an empty revision from `flask db migrate` when nothing changed.
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    def render_item(type_, obj, autogen_context):
        # Our UtcDateTime decorator is stored as a plain timezone-aware DateTime: keep revisions free of
        # imports from the application, which changes after a revision is written.
        if type_ == "type" and type(obj).__name__ == "UtcDateTime":
            return "sa.DateTime(timezone=True)"
        return False

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("render_item", render_item)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    # SQLite cannot ALTER most things in place: let Alembic rebuild tables in batch mode.
    conf_args.setdefault("render_as_batch", True)

    with _db().engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""One unit of work per request and per CLI command: the only place that commits.

Services add and flush and never commit; views and commands never commit either. The request handler
(`BackofficeFlask.dispatch_request`, modelled on Indico's RH) and the CLI wrapper (`transactional`) run the view or
command, commit once when it returns and roll back when it raises, so a use case is stored whole or not at all.

- A view that catches a service error and still answers normally (a form re-rendered with the refusal, a refusal
  that is itself logged) first calls `discard()`: the use case's flushed changes are dropped, and what the view
  adds afterwards (the access-log entry of the refusal) is stored by the request's commit.
- A service error a view does not catch reaches `errors.py`, which rolls back (here) and answers with a flash and
  a redirect (forms) or a 4xx page.
- Work that must only happen once the data is stored (queueing a background job that reads it) registers with
  `after_commit`.
- A background job that reports progress to other processes (the print worker) stores each step with
  `checkpoint()`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click
from flask import g, has_app_context

from .extensions import db

P = ParamSpec("P")
T = TypeVar("T")

_CALLBACKS = "_unit_of_work_after_commit"


def run(work: Callable[[], T]) -> T:
    """Run `work` as one unit: commit when it returns, roll back when it raises."""
    try:
        result = work()
    except BaseException:
        rollback()
        raise
    commit()
    return result


def commit() -> None:
    """Store the unit of work and then run what waited for it (`after_commit`)."""
    db.session.commit()
    callbacks = _pending()
    while callbacks:
        callbacks.pop(0)()


def rollback() -> None:
    db.session.rollback()
    _pending().clear()


def discard() -> None:
    """Drop what the current use case flushed (it was refused); the request goes on and commits what follows."""
    rollback()


def checkpoint() -> None:
    """For background jobs only: store the progress so far, so that other processes see it."""
    commit()


def after_commit(callback: Callable[[], Any]) -> None:
    """Call `callback` once the current unit of work is stored (never when it is rolled back)."""
    _pending().append(callback)


def _pending() -> list[Callable[[], Any]]:
    if not has_app_context():
        return []
    if not hasattr(g, _CALLBACKS):
        setattr(g, _CALLBACKS, [])
    callbacks: list[Callable[[], Any]] = getattr(g, _CALLBACKS)
    return callbacks


def transactional(command: Callable[P, T]) -> Callable[P, T]:
    """The CLI wrapper: the command is one unit of work (put it under `@with_appcontext`)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            result = command(*args, **kwargs)
        except click.exceptions.Exit:
            # ctx.exit(code) ends a command that finished on purpose (code 3: "done, but partly"): store its work.
            commit()
            raise
        except BaseException:
            rollback()
            raise
        commit()
        return result

    return wrapper

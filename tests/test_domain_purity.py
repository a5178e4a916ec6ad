"""The domain package stays pure: importing it must not pull in Flask, SQLAlchemy or Werkzeug."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import backoffice.domain

FORBIDDEN = ("flask", "sqlalchemy", "werkzeug")
DOMAIN_DIR = Path(backoffice.domain.__file__).parent
PACKAGE_DIR = DOMAIN_DIR.parent


def domain_modules() -> list[str]:
    return ["backoffice.domain"] + [
        f"backoffice.domain.{info.name}" for info in pkgutil.iter_modules([str(DOMAIN_DIR)])
    ]


def _imported_by(modules: list[str]) -> list[str]:
    # backoffice/__init__.py holds the Flask app factory, so the parent package is stood in for by an
    # empty module with the same path: what gets loaded is then only what the domain modules pull in.
    script = (
        "import importlib, json, sys, types\n"
        "parent = types.ModuleType('backoffice')\n"
        f"parent.__path__ = [{str(PACKAGE_DIR)!r}]\n"
        "sys.modules['backoffice'] = parent\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter with a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_domain_package_has_the_expected_modules():
    assert {"backoffice.domain.validators", "backoffice.domain.credentials", "backoffice.domain.roles",
            "backoffice.domain.money"} <= set(domain_modules())
    # claims.py is split by use case: every part is checked for leaks like the rest
    assert {f"backoffice.domain.{name}" for name in (
        "claims", "claim_reasons", "claim_facts", "claim_validation", "claim_sheet", "claim_lifecycle",
        "remittance_matching", "claim_outcomes")} <= set(domain_modules())


def test_domain_modules_import_no_web_or_database_library():
    modules = domain_modules()
    loaded = _imported_by(modules)
    assert set(modules) <= set(loaded)
    leaked = [name for name in loaded if name.lower().startswith(FORBIDDEN)]
    assert leaked == []


def test_the_check_would_catch_a_leak():
    # The same subprocess with a module that does import Flask reports it: the test above can fail.
    loaded = _imported_by(["backoffice.domain", "backoffice.extensions"])
    assert "flask" in loaded
    assert "sqlalchemy" in loaded

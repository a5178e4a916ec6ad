"""`make bench`: run every benchmark script in bench/ once per backend it declares.

A script declares its backends with a module-level `BACKENDS = ("sqlite", "postgresql")` (read without importing
the script); without one it runs once, on what it chooses itself (SQLite, or PostgreSQL for the PostgreSQL-only
benchmarks). A PostgreSQL run gets BENCH_BACKEND=postgresql, and _support.figure() appends `_pg` to its figures.
When no PostgreSQL server is reachable the PostgreSQL runs are left out, and this says so in its last line.

Usage: python bench/_run.py [name ...]   (names without .py; default: every script)
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import _support

HERE = Path(__file__).resolve().parent


def declared_backends(script: Path) -> tuple[str, ...]:
    tree = ast.parse(script.read_text(encoding="utf-8"), str(script))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "BACKENDS" for t in node.targets):
            value = ast.literal_eval(node.value)
            return tuple(value)
    return ()


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    reachable = _support.postgres_reachable()
    left_out = []
    for script in scripts:
        backends = declared_backends(script) or ("",)
        for backend in backends:
            if backend == _support.POSTGRES and not reachable:
                left_out.append(script.name)
                continue
            env = dict(os.environ)
            if backend:
                env["BENCH_BACKEND"] = backend
            print(f"== {script.relative_to(HERE.parent)}" + (f" on {backend}" if backend else ""), flush=True)
            done = subprocess.run([sys.executable, str(script)], env=env, check=False)
            if done.returncode != 0:
                print(f"{script.name} failed (exit {done.returncode})", flush=True)
                return done.returncode
    if left_out:
        print(f"PostgreSQL ({_support.POSTGRES_URL}) not reachable: the _pg runs of {', '.join(left_out)} were "
              "left out", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

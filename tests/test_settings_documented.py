"""Every environment variable the code reads is documented in the README, in one of its
tables (`| \\`NAME\\` | default | meaning |`).

The settings (flowmaestro/settings.py, and a few read where they are used) and the README's
tables are two lists kept by hand; before this test, four variables had no row (the e-mail
backend a cancel's `notify` sends through among them). A row may shorten a family:
`| \\`FLOWMAESTRO_HSTS_SECONDS\\` / \\`_INCLUDE_SUBDOMAINS\\` / \\`_PRELOAD\\` | …` documents
all three (the suffixes replace the first name's last word).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("flowmaestro", "engine", "editor")
NAME = re.compile(r"^(?:FLOWMAESTRO|DJANGO)_[A-Z0-9_]+$")
# Read by the code but meant for the test suite only, not for someone running FlowMaestro.
TEST_ONLY = frozenset({"FLOWMAESTRO_TEST_DB"})
# The functions that read a variable by name (flowmaestro/settings.py, engine/expressions/sandbox.py).
READERS = frozenset({"env_bool", "env_int", "env_float", "env_list", "_rate", "_env_count", "getenv"})


def _reads(node: ast.AST) -> str | None:
    """The variable's name when `node` reads one from the environment: `os.environ.get("NAME")`,
    `os.getenv("NAME")`, `os.environ["NAME"]`, or a reader of flowmaestro/settings.py or the
    sandbox (`env_int("NAME", …)`, `_rate`, `_env_count`)."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
        key = node.slice
    elif isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        on_environ = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute) and func.value.attr == "environ"
        if not (name in READERS or (name == "get" and on_environ)):
            return None
        key = node.args[0]
    else:
        return None
    if isinstance(key, ast.Constant) and isinstance(key.value, str) and NAME.match(key.value):
        return key.value
    return None


def names_read_by_the_code() -> dict[str, str]:
    """NAME -> the first file that reads it from the environment."""
    found: dict[str, str] = {}
    for package in SOURCES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                name = _reads(node)
                if name:
                    found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def documented_names(readme: str) -> set[str]:
    names: set[str] = set()
    for line in readme.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split(" | ")[0]
        cells = re.findall(r"`([A-Z0-9_]+)`", first_cell)
        base = ""
        for cell in cells:
            if cell.startswith("_") and base:  # `_BATCH` after `FLOWMAESTRO_RETENTION_INTERVAL`
                names.add(base.rsplit("_", 1)[0] + cell)
            else:
                base = cell
                names.add(cell)
    return names


def test_every_environment_variable_the_code_reads_has_a_readme_row() -> None:
    documented = documented_names((ROOT / "README.md").read_text(encoding="utf-8"))
    missing = {name: path for name, path in names_read_by_the_code().items()
               if name not in documented and name not in TEST_ONLY}
    assert not missing, "\n".join(
        f"{name} (read in {path}) is not documented: add a row `| `{name}` | <default> | <what it does> |` "
        "to README.md's \"Configuration (environment variables)\" table (or \"Production\", for a deployment "
        "setting)" for name, path in sorted(missing.items()))


def test_the_shortened_rows_are_read_as_their_whole_names() -> None:
    rows = ("| `FLOWMAESTRO_HSTS_SECONDS` / `_INCLUDE_SUBDOMAINS` / `_PRELOAD` | x | y |\n"
            "| `FLOWMAESTRO_RETENTION_INTERVAL` / `_BATCH` | x | y |\n")
    assert {"FLOWMAESTRO_HSTS_INCLUDE_SUBDOMAINS", "FLOWMAESTRO_HSTS_PRELOAD",
            "FLOWMAESTRO_RETENTION_BATCH"} <= documented_names(rows)


def test_every_variable_the_docs_name_is_read() -> None:
    """The other way round: a variable the README or docs/ name that nothing reads is a knob
    that does nothing (FLOWMAESTRO_TRACE_EXPORT_INTERVAL was one: Traces named it, the
    housekeeping used a fixed second)."""
    read = set(names_read_by_the_code()) | {"FLOWMAESTRO_PG_BINDIR"}  # read by the test suite's tests/pg.py
    named: dict[str, str] = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for name in [*re.findall(r"`((?:FLOWMAESTRO|DJANGO)_[A-Z0-9_]+)`", text), *documented_names(text)]:
            named.setdefault(name, path.name)
    dead = sorted((name, doc) for name, doc in named.items() if name not in read and NAME.match(name))
    assert not dead, "\n".join(
        f"{doc} names {name}, which no code reads from the environment: read it in flowmaestro/settings.py "
        f"(env_int / env_float / env_bool) or take it out of {doc}" for name, doc in dead)

"""The run log: every generation, score and comparison, in SQLite, and `modelito runs ...` to use it.

The database lives in modelito's data folder ($MODELITO_HOME moves it). Its schema is versioned
(PRAGMA user_version) and migrated forward in order; it uses WAL and a busy timeout so two
terminals can write at once; a damaged file is reported and left alone, never replaced.
"""

from __future__ import annotations

import json
import platform
import sqlite3
import sys
import time
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import ModelitoError
from .common import CLI_POLICY, common_parser, default_model, home, print_json

# Migration N brings the schema from version N to N + 1. Append, never edit.
MIGRATIONS = [
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created TEXT NOT NULL,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt TEXT NOT NULL,
        output TEXT NOT NULL,
        params TEXT NOT NULL,
        seed INTEGER,
        versions TEXT NOT NULL,
        device TEXT,
        dtype TEXT,
        request TEXT NOT NULL,
        trace TEXT NOT NULL
    )""",
    "CREATE INDEX runs_created ON runs(created)",
]


def db_path() -> Path:
    return home() / "runs.sqlite"


@contextmanager
def opened(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """The run log, migrated; a damaged file (its header or any page) is one clear error, and is left as it is."""
    path = path or db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(path, timeout=30)) as conn:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn)
            yield conn
    except sqlite3.DatabaseError as err:
        raise ModelitoError(f"the run log {path} is damaged ({err}); it was left as it is. Move it away to start "
                            "a new one, or pass --no-log.") from err


def migrate(conn: sqlite3.Connection) -> None:
    with conn:
        conn.execute("BEGIN IMMEDIATE")  # one migrator at a time
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise ModelitoError(f"the run log was written by a newer modelito (schema {version}); upgrade modelito")
        for step in MIGRATIONS[version:]:
            conn.execute(step)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")


def versions() -> dict[str, str]:
    import torch
    import transformers

    import modelito

    return {"modelito": modelito.__version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version()}


def record(kind: str, model: str, request: dict, result: Any, path: Path | None = None) -> int:
    """Store one run; return its id."""
    data = result.to_dict()
    params = data.get("params") or (data["results"][0]["params"] if data.get("results") else {})
    output = data.get("text") or "\n---\n".join(r["text"] for r in data.get("results", []))
    row = (time.strftime("%Y-%m-%dT%H:%M:%S"), kind, model, json.dumps(request.get("prompt"), ensure_ascii=False),
           output, json.dumps(params, ensure_ascii=False), params.get("seed"), json.dumps(versions()),
           data.get("device"), data.get("dtype"), json.dumps(request, ensure_ascii=False),
           json.dumps(data, ensure_ascii=False))
    with opened(path) as conn, conn:
        cur = conn.execute("INSERT INTO runs (created, kind, model, prompt, output, params, seed, versions, device, "
                           "dtype, request, trace) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
        return int(cur.lastrowid)


def log_run(args, text) -> None:
    """Record a finished command's result. The answer was already given: a log that cannot be written
    is a warning on stderr, never a failure of the command."""
    result = args.log_result
    request = getattr(args, "log_request", None) or {"prompt": getattr(args, "prompt", getattr(args, "text", None))}
    model = getattr(result, "model", None) or str(args.model or default_model())
    try:
        run_id = record(args.command, model, request, result)
    except (ModelitoError, OSError) as err:
        print(text("log_failed", error=err), file=sys.stderr)
        return
    print(text("run_saved", id=run_id), file=sys.stderr)


def register(commands, lang: str) -> None:
    runs = commands.add_parser("runs", help="the run log: list, show, export, rerun",
                               description="Every generation, score and comparison is logged (--no-log skips it).")
    sub = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="the latest runs", parents=[common_parser()])
    ls.add_argument("--limit", type=int, default=20)
    for name, help_text in (("show", "one run"), ("export", "one run as JSON, trace included"),
                            ("rerun", "repeat a generation with the same seed and check the tokens are identical")):
        p = sub.add_parser(name, help=help_text, parents=[common_parser()])
        p.add_argument("id", type=int)
    runs.set_defaults(run=run_runs)


def fetch(run_id: int) -> sqlite3.Row:
    with opened() as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise ModelitoError(f"there is no run {run_id}: `modelito runs list` shows the logged runs")
    return row


def run_runs(args, text) -> int:
    if args.action == "list":
        with opened() as conn:
            rows = conn.execute("SELECT id, created, kind, model, output FROM runs ORDER BY id DESC LIMIT ?",
                                (args.limit,)).fetchall()
        if args.json:
            print_json([dict(zip(("id", "created", "kind", "model", "output"), r)) for r in rows])
        elif not rows:
            print(text("no_runs"))
        for r in rows if not args.json else []:
            print(f"{r[0]:>5}  {r[1]}  {r[2]:<9} {r[3]:<30.30} {r[4][:50]!r}")
        return 0
    row = fetch(args.id)
    if args.action == "export":
        print(row["trace"])
        return 0
    if args.action == "show":
        data = {k: row[k] for k in row.keys() if k != "trace"}
        for key in ("params", "versions", "request"):
            data[key] = json.loads(data[key])
        if args.json:
            print_json(data)
        else:
            for key, value in data.items():
                print(f"{key:>9}: {value}")
        return 0
    return rerun(row, args, text)


def rerun(row: sqlite3.Row, args, text) -> int:
    import modelito

    if row["kind"] not in ("generate", "g"):
        raise ModelitoError(f"run {row['id']} is a {row['kind']}: only generations can be rerun")
    request = json.loads(row["request"])
    lm = modelito.load(request["model"], device=request.get("device", "auto"), dtype=request.get("dtype", "auto"))
    policy = CLI_POLICY if request.get("policy") == "cli" else None
    result = lm.generate(request["prompt"], policy=policy, **request["kwargs"])
    before = json.loads(row["trace"])["sequences"]
    now = [list(s.token_ids) for s in result.sequences]
    for i, (old, new) in enumerate(zip(before, now)):
        if old["token_ids"] != new:
            step = next((k for k, (a, b) in enumerate(zip(old["token_ids"], new)) if a != b),
                        min(len(old["token_ids"]), len(new)))
            print(text("rerun_diff", id=row["id"], step=step))
            return 1
    print(text("rerun_same", id=row["id"], n=sum(len(t) for t in now)))
    return 0

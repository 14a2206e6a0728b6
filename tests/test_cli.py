"""The command line, driven as a user would: the installed entry point, and in-process for the rest."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from modelito.cli import main
from modelito.cli.i18n import Text

ENTRY = Path(sys.executable).parent / "modelito"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELITO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MODELITO_MODEL", raising=False)
    monkeypatch.setenv("MODELITO_LANG", "en")
    return tmp_path / "home"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENTRY), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_help_lists_the_commands():
    done = run("--help")
    assert done.returncode == 0
    for command in ("generate", "chat", "info", "tokenize", "score", "compare", "runs", "train"):
        assert command in done.stdout


def test_generate_end_to_end_through_the_entry_point(tiny_path, isolated_home):
    done = run("generate", "-m", str(tiny_path), "--greedy", "--max-new-tokens", "6", "Hola modelito")
    assert done.returncode == 0, done.stderr
    assert "device cpu" in done.stderr and "run 1 logged" in done.stderr
    import modelito

    expected = modelito.load(tiny_path).generate([{"role": "user", "content": "Hola modelito"}], do_sample=False,
                                                 max_new_tokens=6).text
    assert done.stdout.rstrip("\n") == expected


def test_user_mistakes_are_one_line_and_exit_2(tiny_path):
    done = run("generate", "-m", str(tiny_path), "--sample", "--temperature", "-1", "Hola")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "modelito: temperature=-1.0 is not allowed: a number > 0 when sampling")
    assert "Traceback" not in done.stderr


def test_unknown_model_offline_suggests_the_shipped_one(capsys):
    assert main(["generate", "-m", "nobody/no-such-model", "Hola"]) == 2
    err = capsys.readouterr().err
    assert "could not be downloaded" in err and "-m modelito-tiny-instruct" in err


def test_prompt_longer_than_the_context(tiny_path, capsys):
    assert main(["generate", "-m", str(tiny_path), "--raw", "hola " * 400]) == 2
    assert "context" in capsys.readouterr().err


def test_json_is_the_library_schema(tiny_path, capsys):
    assert main(["generate", "--json", "--no-log", "-m", str(tiny_path), "--greedy", "--max-new-tokens", "4",
                 "Hola"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"text", "sequences", "params", "stage_names", "usage"} <= set(data)
    assert data["params"]["sources"]["do_sample"] == "user"


def test_probs_lists_each_step_with_both_probabilities(tiny_path, capsys):
    assert main(["generate", "--no-log", "-m", str(tiny_path), "--probs", "--seed", "1", "--max-new-tokens", "4",
                 "Hola"]) == 0
    err = capsys.readouterr().err
    assert "model" in err and "sampler" in err
    assert len([l for l in err.splitlines() if l[:4].strip().isdigit()]) == 4


def test_show_defaults_says_where_each_value_comes_from(tiny_path, capsys):
    assert main(["generate", "-m", str(tiny_path), "--show-defaults", "--temperature", "0.2", "Hola"]) == 0
    out = capsys.readouterr().out
    assert "temperature" in out and "your flag" in out and "from the model's generation_config" in out


def test_spanish_messages(tiny_path, capsys):
    assert main(["generate", "--lang", "es", "-m", str(tiny_path), "--show-defaults", "Hola"]) == 0
    assert "Parámetros de generación" in capsys.readouterr().out


def test_info_tokenize_score_compare(qwen_instruct_path, tiny_path, capsys):
    assert main(["info", str(qwen_instruct_path)]) == 0
    assert "494.0 million" in capsys.readouterr().out
    assert main(["tokenize", "-m", str(qwen_instruct_path), "Hola modelito, hablas español?"]) == 0
    out = capsys.readouterr().out
    assert "69888" in out and "ĠespaÃ±ol" in out
    assert main(["score", "--no-log", "-m", str(tiny_path), "Hola modelito"]) == 0
    assert "perplexity" in capsys.readouterr().out
    assert main(["compare", "--no-log", "-m", str(tiny_path), "--set", "temperature=0.3", "--set",
                 "do_sample=false", "--max-new-tokens", "4", "Hola"]) == 0
    assert "temperature=0.3" in capsys.readouterr().out


def test_chat_keeps_history_and_refuses_bad_settings(tiny_path, tmp_path):
    from modelito.cli import build_parser
    from modelito.cli.chat import run_chat

    saved = tmp_path / "chat.json"
    script = "/set max_new_tokens 4\nHola\n/set temperature -1\n¿Qué tal?\n/history\n/save " + str(saved) + "\n"
    args = build_parser().parse_args(["chat", "-m", str(tiny_path), "--greedy"])
    out = io.StringIO()
    assert run_chat(args, Text("en"), stdin=io.StringIO(script), stdout=out) == 0
    data = json.loads(saved.read_text())
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "user", "assistant"]
    assert "temperature=-1" in out.getvalue()  # refused, with the reason; the chat went on


def test_several_answers_are_printed_one_after_another(tiny_path, capsys):
    assert main(["generate", "--no-log", "-m", str(tiny_path), "--sample", "-n", "2", "--seed", "1",
                 "--max-new-tokens", "6", "Hola"]) == 0
    out = capsys.readouterr().out
    import modelito

    result = modelito.load(tiny_path).generate([{"role": "user", "content": "Hola"}], do_sample=True,
                                               num_return_sequences=2, seed=1, max_new_tokens=6)
    assert out == f"{result.sequences[0].text}\n--- 2\n{result.sequences[1].text}\n"


def test_chat_save_to_a_bad_path_keeps_the_chat(tiny_path, tmp_path):
    from modelito.cli import build_parser
    from modelito.cli.chat import run_chat

    args = build_parser().parse_args(["chat", "-m", str(tiny_path), "--greedy", "--max-new-tokens", "3"])
    out = io.StringIO()
    script = f"/save {tmp_path}/empty.json\nHola\n/save /no/such/dir/x.json\n/history\n"
    assert run_chat(args, Text("en"), stdin=io.StringIO(script), stdout=out) == 0
    assert "could not save" in out.getvalue() and "user: Hola" in out.getvalue()


def test_ctrl_c_during_an_answer_keeps_the_conversation(tiny_lm):
    from modelito.cli.chat import answer

    conv = tiny_lm.chat()
    conv.send("Hola", max_new_tokens=2, do_sample=False)
    before = list(conv.messages)

    class Interrupting:
        def __init__(self, lm):
            self.lm, self.name = lm, lm.name

        def stream(self, *a, **k):
            yield from ()
            raise KeyboardInterrupt

    conv.lm = Interrupting(tiny_lm)
    out = io.StringIO()
    answer(conv, "otra", {}, False, Text("en"), out)
    assert conv.messages == before and "stopped" in out.getvalue()


def test_run_log_list_show_export_and_rerun(tiny_path, capsys):
    assert main(["generate", "-m", str(tiny_path), "--seed", "7", "--max-new-tokens", "5", "Hola"]) == 0
    capsys.readouterr()
    assert main(["runs", "list"]) == 0
    assert "generate" in capsys.readouterr().out
    assert main(["runs", "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["seed"] == 7 and shown["params"]["sources"]["seed"] == "user"
    assert set(shown["versions"]) >= {"torch", "transformers", "modelito"}
    assert main(["runs", "export", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["sequences"][0]["steps"]
    assert main(["runs", "rerun", "1"]) == 0
    assert "reproduced: the same 5 tokens" in capsys.readouterr().out
    assert main(["runs", "show", "99"]) == 2


def test_damaged_log_is_reported_and_left_alone(tiny_path, isolated_home, capsys):
    """The answer was produced: a log that cannot be written is a warning, exit 0; the file is never replaced."""
    isolated_home.mkdir(parents=True)
    db = isolated_home / "runs.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    assert main(["generate", "-m", str(tiny_path), "--greedy", "--max-new-tokens", "2", "Hola"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() and "warning: the run was not logged" in out.err and "damaged" in out.err
    assert db.read_bytes() == b"this is not a database" * 100
    assert main(["runs", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("modelito: the run log") and "Traceback" not in err[0]


def test_log_with_a_valid_header_and_damaged_pages(tiny_path, isolated_home, capsys):
    from modelito.cli.runs import record

    class Run:
        def to_dict(self):
            return {"text": "t" * 3000, "params": {"seed": 1}}

    for _ in range(20):  # several pages
        record("generate", "m", {"prompt": "p"}, Run())
    db = isolated_home / "runs.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\xff" * (len(data) - page)  # the header page stays valid; every other page is garbage
    db.write_bytes(bytes(data))
    damaged = db.read_bytes()
    assert main(["generate", "-m", str(tiny_path), "--greedy", "--max-new-tokens", "2", "Hola"]) == 0
    assert "warning: the run was not logged" in capsys.readouterr().err
    for command in (["runs", "list"], ["runs", "show", "1"], ["runs", "export", "1"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "damaged" in err[0], (command, err)
    assert db.read_bytes() == damaged


def test_two_terminals_write_at_once(tiny_path, isolated_home):
    code = ("import sys; from modelito.cli.runs import record\n"
            "class R:\n  def to_dict(self): return {'text': 't', 'params': {'seed': 1}}\n"
            "[record('generate', 'm', {'prompt': 'p'}, R()) for _ in range(25)]")
    procs = [subprocess.Popen([sys.executable, "-c", code], env={**os.environ}) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with sqlite3.connect(isolated_home / "runs.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 50
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_make_demo_command_runs_offline():
    done = subprocess.run([sys.executable, "-m", "modelito.demo", "--max-new-tokens", "8"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Base vs instruct" in done.stdout and "sampler" in done.stdout


def test_default_model_from_the_environment_or_the_config_file(isolated_home, monkeypatch):
    from modelito.cli.common import DEFAULT_MODEL, default_model

    assert default_model() == DEFAULT_MODEL == "Qwen/Qwen2.5-0.5B-Instruct"
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "config.json").write_text('{"model": "modelito-tiny-instruct"}')
    assert default_model() == "modelito-tiny-instruct"
    monkeypatch.setenv("MODELITO_MODEL", "modelito-tiny")
    assert default_model() == "modelito-tiny"

"""The course notebook, rewritten with modelito, runs from top to bottom on the offline models."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from conftest import ROOT

BUILDER = runpy.run_path(str(ROOT / "examples" / "build_notebook.py"))


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_committed_notebooks_are_what_the_script_writes(lang):
    path = ROOT / "examples" / BUILDER["NOTEBOOKS"][lang]
    assert json.loads(path.read_text(encoding="utf-8")) == BUILDER["notebook"](lang)
    assert len(BUILDER["ENGLISH_MARKDOWN"]) == sum(kind == "md" for kind, _ in BUILDER["CELLS"])


@pytest.mark.parametrize("lang", ["es", "en"])
def test_notebook_runs_offline_without_errors(lang, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the test extras install nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the test extras install nbclient")
    monkeypatch.setenv("MODELITO_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nb = nbformat.read(ROOT / "examples" / BUILDER["NOTEBOOKS"][lang], as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    html = [o for o in outputs if "data" in o and "text/html" in o["data"]]
    assert len(html) >= 5, "results show as HTML in the notebook"
    shown = "".join(o["data"]["text/html"] for o in html)
    spanish = {"es": True, "en": False}[lang]  # the notebook's set_language: its cards and tables follow
    assert ("caracteres por token" in shown) is spanish and ("characters per token" in shown) is not spanish
    text = "".join(o.get("text", "") for o in outputs)
    assert "¿iguales? True" in text

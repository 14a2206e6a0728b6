"""The course notebook, rewritten with modelito, runs from top to bottom on the offline models."""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path

import pytest

from conftest import ROOT

NOTEBOOK = ROOT / "examples" / "curso_modelito.ipynb"


def test_the_committed_notebook_is_what_the_script_writes():
    builder = runpy.run_path(str(ROOT / "examples" / "build_notebook.py"))
    assert json.loads(NOTEBOOK.read_text(encoding="utf-8")) == builder["notebook"]()


def test_notebook_runs_offline_without_errors(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the test extras install nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the test extras install nbclient")
    monkeypatch.setenv("MODELITO_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    html = [o for o in outputs if "data" in o and "text/html" in o["data"]]
    assert len(html) >= 5, "results show as HTML in the notebook"
    text = "".join(o.get("text", "") for o in outputs)
    assert "¿iguales? True" in text

"""The shape of the code: an acyclic module graph in layers, private names kept private, small modules,
and one parameter schema that every interface derives from."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "src" / "modelito"
# Bottom to top. A module may import its own layer or a lower one, never a higher one.
LAYERS = {
    "records": {"errors", "rendering", "words", "params", "merge", "trace", "textstream", "protocols"},
    "engine": {"sampling", "stages", "engine", "search", "batch", "lens", "onednn"},
    "library": {"hub", "tokens", "modelcard", "generation", "score", "comparison", "classify", "chat", "lm",
                "loading", "scheduler", "engines", "remote", "inside"},
    "tools": {"train", "testing", "demo"},
    "interfaces": {"views", "cli", "server"},
}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """Every modelito module `name` imports, anywhere in the file (inside functions and TYPE_CHECKING too)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "modelito"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "modelito":
                continue
            for alias in node.names:  # `from . import views` imports the module modelito.views
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> int:
    top = name.split(".")[1] if "." in name else "__init__"
    for i, members in enumerate(LAYERS.values()):
        if top in members:
            return i
    raise AssertionError(f"{name} is in no layer: add it to LAYERS (and to docs/architecture.md)")


def test_the_module_graph_has_no_cycles():
    cycles = [c for c in strongly_connected(GRAPH) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_modules_import_only_their_layer_or_lower():
    wrong = [(name, other) for name, targets in GRAPH.items() if name != "modelito"
             for other in targets if other != "modelito" and layer(other) > layer(name)]
    assert not wrong, f"imports from a higher layer: {wrong}"


def test_views_import_no_library_module():
    """Views read records by their attributes: no torch, no model, at import or call."""
    for name in (m for m in MODULES if m.startswith("modelito.views")):
        assert all(layer(other) == 0 or other.startswith("modelito.views") for other in GRAPH[name]), name


def test_private_names_stay_in_their_module():
    leaks = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("modelito")):
                leaks += [(name, a.name) for a in node.names if a.name.startswith("_") and a.name != "__version__"]
    assert not leaks, f"private names imported across modules: {leaks}"


def test_modules_are_small_or_say_why():
    reasons = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    long = [(name, n) for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
            and f"`{path.relative_to(PACKAGE).as_posix()}`" not in reasons.split("## Long modules")[-1]]
    assert not long, f"modules over {MAX_LINES} lines with no reason in docs/architecture.md: {long}"


def test_every_record_has_a_text_and_an_html_view():
    import modelito  # noqa: F401  (registers the views)
    from modelito import rendering

    import modelito.chat, modelito.classify, modelito.comparison, modelito.modelcard, modelito.score  # noqa: E401,F401

    viewable = {cls.__name__ for cls in _subclasses(rendering.Viewable)}
    assert viewable and viewable <= rendering.registered()


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


# -- one parameter schema -----------------------------------------------------------------------------

def test_a_new_field_reaches_the_library_and_the_cli(extended, tiny_lm):
    from modelito.cli import build_parser

    # The library: accepted, validated, recorded with its source.
    result = tiny_lm.generate("Hola", max_new_tokens=2, frobnication=0.5)
    assert result.params["frobnication"] == 0.5 and result.params["sources"]["frobnication"] == "user"
    from modelito import ParameterError

    with pytest.raises(ParameterError, match=r"frobnication=2\.0 is not allowed: a number in \[0, 1\]"):
        tiny_lm.generate("Hola", max_new_tokens=2, frobnication=2.0)

    # The command line: a flag with its doc, in both languages, parsed to its kind.
    for lang, doc in (("en", "How much to frobnicate"), ("es", "Cuánto frobnicar")):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            build_parser(lang).parse_args(["generate", "--help"])
        assert "--frobnication" in out.getvalue() and doc in re.sub(r"\s+", " ", out.getvalue())
    args = build_parser().parse_args(["generate", "--frobnication", "0.3", "Hola"])
    from modelito.cli.common import generation_kwargs

    assert generation_kwargs(args) == {"frobnication": 0.3}


def test_a_new_field_reaches_the_http_api(extended, tiny_lm):
    import httpx

    from test_server import Server

    server = Server(tiny_lm, max_tokens_cap=8, name="tiny")
    try:
        listed = {p["name"]: p for p in httpx.get(server.url + "/api/params").json()["params"]}
        assert listed["frobnication"]["doc_es"].startswith("Cuánto") and listed["frobnication"]["source"] == "default"
        body = {"messages": [{"role": "user", "content": "Hola"}], "max_tokens": 2, "frobnication": 0.25}
        answer = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=60).json()
        assert answer["choices"][0]["modelito"]["params"]["frobnication"] == 0.25
        refused = httpx.post(server.url + "/v1/chat/completions", json={**body, "frobnication": 7}, timeout=60)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "frobnication"
    finally:
        server.stop()


@dataclass
class _Case:
    kwargs: dict
    strategy: str
    words: str


@pytest.mark.parametrize("case", [
    _Case({"do_sample": False}, "greedy", "greedy"),
    _Case({"do_sample": True, "seed": 3}, "sample", "sampling · seed 3"),
    _Case({"num_beams": 3, "do_sample": False}, "beam", "beam search (3 beams"),
    _Case({"penalty_alpha": 0.5, "top_k": 3, "do_sample": False}, "contrastive", "contrastive search (top_k 3"),
], ids=lambda c: c.strategy)
def test_every_strategy_is_named_by_the_result_and_its_views(tiny_lm, case):
    result = tiny_lm.generate("Hola", max_new_tokens=3, **case.kwargs)
    assert result.strategy == case.strategy == result.to_dict()["strategy"]
    assert case.words in str(result).splitlines()[0]
    assert case.words in result._repr_html_()
    others = {"greedy", "sampling", "beam search", "contrastive search"} - {case.words.split(" (")[0].split(" ·")[0]}
    head = str(result).splitlines()[0]
    assert not any(f"· {other} " in head for other in others)


def test_sources_say_default_for_what_nobody_set(tiny_lm):
    result = tiny_lm.generate("Hola", max_new_tokens=2, do_sample=False)
    sources = result.params["sources"]
    assert sources["top_n"] == "default" and sources["penalty_alpha"] == "default"
    assert sources["max_new_tokens"] == "user" and sources["repetition_penalty"] == "model"
    assert tiny_lm.generate("Hola", max_new_tokens=2, top_n=3).params["sources"]["top_n"] == "user"

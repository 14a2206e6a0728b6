"""Shared test fixtures: the real model files in ../shared/fixtures and a tiny model built once."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

# No test may reach the network: hub ids must resolve from the local cache or fail clearly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The command line speaks the machine's language (LANG): the tests read its English unless they ask for Spanish.
os.environ.setdefault("MODELITO_LANG", "en")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("MODELITO_FIXTURES", ROOT.parent / "shared" / "fixtures"))
REQUIRE = os.environ.get("MODELITO_REQUIRE_FIXTURES") == "1"


def fixture_path(name: str) -> Path:
    """A folder of ../shared/fixtures; skip (or fail in CI) when it is missing."""
    path = FIXTURES / name
    if not path.exists():
        message = f"fixture {path} is missing (set MODELITO_FIXTURES to the shared fixtures folder)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> Path:
    from modelito.testing import tiny_model

    return tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_lm(tiny_path):
    import modelito

    return modelito.load(tiny_path, device="cpu")


@pytest.fixture(scope="session")
def stories_path() -> Path:
    return fixture_path("stories260k")


@pytest.fixture(scope="session")
def stories_lm(stories_path):
    import modelito

    return modelito.load(stories_path, device="cpu")


@pytest.fixture(scope="session")
def qwen_instruct_path() -> Path:
    return fixture_path("qwen2.5-0.5b-instruct")


@pytest.fixture
def extended(monkeypatch):
    """A new generation parameter, declared in one place (a field with its Spec), as a developer would."""
    from dataclasses import dataclass as frozen_dataclass

    from modelito import merge, params

    @frozen_dataclass(frozen=True)
    class Extended(params.GenerationParams):
        frobnication: float = params.param(
            0.0, "How much to frobnicate (a test knob). 0 is off.", "Cuánto frobnicar (un mando de prueba).",
            "float", "penalties", low=0.0, high=1.0, step=0.1)

    # The class is looked up where it is used; these are the two places that build it.
    monkeypatch.setattr(params, "GenerationParams", Extended)
    monkeypatch.setattr(merge, "GenerationParams", Extended)
    return Extended


def slow_down(lm, monkeypatch, seconds: float):
    """Make each forward pass of lm's model take `seconds` more, so that calls overlap in time
    (sleeping releases the GIL, as torch's kernels do). Returns lm."""
    forward = lm.model.forward

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return forward(*args, **kwargs)

    monkeypatch.setattr(lm.model, "forward", slow)
    return lm


def hold_forward(lm, monkeypatch, passing: int = 0) -> threading.Event:
    """Let the first `passing` forward passes of lm's model through; every later one waits until the
    returned gate is set (or 60 s). Holds a call in place, whatever the machine's speed."""
    gate, forward, calls = threading.Event(), lm.model.forward, []

    def held(*args, **kwargs):
        calls.append(1)
        if len(calls) > passing:
            gate.wait(60)
        return forward(*args, **kwargs)

    monkeypatch.setattr(lm.model, "forward", held)
    return gate

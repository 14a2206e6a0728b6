"""Looking deeper: the logit lens, attention and attribution, each against an independent computation with
transformers (hidden states through the final norm and head; eager attention; torch.autograd)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from modelito import ParameterError, PromptTooLongError

TEXT = "Caminando por la calle me encontré a"


def reference_lens(model, ids: list[int]) -> list[torch.Tensor]:
    """Per layer, next-token probabilities [positions, V]: transformers' hidden states, every one but the
    last through the model's final norm, then the LM head."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        states = out.hidden_states
        norm = model.model.norm
        probs = [model.lm_head(norm(h[0])).float().softmax(-1) for h in states[:-1]]
        probs.append(out.logits[0].float().softmax(-1))  # the output: its last hidden state is already normed
    return probs


@pytest.mark.parametrize("model", ["tiny_lm", "stories_lm"])
def test_the_lens_equals_hidden_states_through_the_final_norm_and_head(model, request):
    lm = request.getfixturevalue(model)
    lens = lm.lens(TEXT, top_n=4)
    ids = lm.prompt_ids(TEXT)[1]
    expected = reference_lens(lm.model, ids)
    layers = lm.model.config.num_hidden_layers
    assert np.asarray(lens.top_ids).shape == (layers + 1, len(ids), 4) and lens.tokens.ids == ids
    assert np.asarray(lens.target_probs).shape == (layers + 1, len(ids) - 1)
    for layer, probs in enumerate(expected):
        best = probs.topk(4, dim=-1)
        assert np.allclose(lens.top_probs[layer], best.values.numpy(), atol=1e-5)
        assert (lens.top_ids[layer][:, 0] == best.indices[:, 0].numpy()).all()
        following = torch.tensor(ids[1:])[:, None]
        assert np.allclose(lens.target_probs[layer], probs[:-1].gather(1, following)[:, 0].numpy(), atol=1e-5)
    # The last row is the model's own output distribution, not normed twice.
    with torch.no_grad():
        output = lm.model(input_ids=torch.tensor([ids])).logits[0].float().softmax(-1)
    assert np.allclose(lens.top_probs[-1][:, 0], output.max(-1).values.numpy(), atol=1e-6)
    assert "logit lens" in str(lens) and "<table>" in lens._repr_html_()
    assert json.loads(json.dumps(lens.to_dict()))["top_ids"][0][0] == lens.top_ids[0, 0].tolist()


def test_attention_equals_eager_attention(tiny_lm, tiny_path):
    from transformers import AutoModelForCausalLM

    attention = tiny_lm.attention(TEXT)
    eager = AutoModelForCausalLM.from_pretrained(tiny_path, attn_implementation="eager").eval()
    with torch.no_grad():
        expected = eager(input_ids=torch.tensor([tiny_lm.prompt_ids(TEXT)[1]]), output_attentions=True).attentions
    weights = np.asarray(attention.weights)
    assert weights.shape == (len(expected), *expected[0].shape[1:])
    for layer, probs in enumerate(expected):
        assert np.allclose(weights[layer], probs[0].numpy(), atol=1e-6)
    assert np.allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(attention.mean(0), weights[0].mean(0))
    assert tiny_lm.model.config._attn_implementation == "sdpa"  # switched back after the pass
    assert "attends to" in str(attention) and "<select" in attention._repr_html_()


def test_attribution_equals_gradient_times_input_by_autograd(tiny_lm):
    ids = tiny_lm.prompt_ids(TEXT)[1]
    model = copy.deepcopy(tiny_lm.model)  # the oracle's own copy: nothing shared with modelito's pass
    embeddings = model.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
    logprobs = model(inputs_embeds=embeddings).logits[0, -1].float().log_softmax(-1)
    target = int(logprobs.argmax())
    logprobs[target].backward()
    saliency = (embeddings.grad[0] * embeddings[0]).norm(dim=-1).detach()
    expected = (saliency / saliency.sum()).numpy()

    result = tiny_lm.attribute(TEXT)
    assert result.target_id == target and np.allclose(result.scores, expected, atol=1e-5)
    assert result.scores.shape == (len(ids),) and result.scores.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.target_logprob == pytest.approx(float(logprobs[target].detach()), abs=1e-5)
    other = int(logprobs.argsort()[-2])
    assert tiny_lm.attribute(TEXT, target=other).target_id == other
    one_token = tiny_lm.token_text(other)
    if tiny_lm.tokenizer(one_token, add_special_tokens=False)["input_ids"] == [other]:
        assert tiny_lm.attribute(TEXT, target=one_token).target_id == other
    with pytest.raises(ParameterError, match="target=.*exactly one token"):
        tiny_lm.attribute(TEXT, target="Caminando por la calle")
    with pytest.raises(ParameterError, match="target=99999"):
        tiny_lm.attribute(TEXT, target=99999)
    assert "gradient × input" in str(result) and "share" in result._repr_html_()


def test_the_live_lens_comes_from_the_same_pass_and_equals_the_lens_of_the_text(tiny_lm):
    messages = [{"role": "user", "content": "Hola modelito"}]
    result = tiny_lm.generate(messages, max_new_tokens=6, lens=True, seed=4)
    for i, step in enumerate(result.steps):
        lens = tiny_lm.lens(messages, top_n=1, prefix=list(result.sequences[0].token_ids[:i]))
        assert [g.top_id for g in step.lens] == lens.top_ids[:, -1, 0].tolist()
        assert [g.top_prob for g in step.lens] == pytest.approx(lens.top_probs[:, -1, 0].tolist(), abs=1e-5)
        if i + 1 < len(result.steps):
            later = tiny_lm.lens(messages, top_n=1, prefix=list(result.sequences[0].token_ids[: i + 1]))
            assert [g.chosen_prob for g in step.lens] == pytest.approx(later.target_probs[:, -1].tolist(), abs=1e-5)
        decided = step.decided_at
        assert decided is None or all(g.top_id == step.token_id for g in step.lens[decided:])
    assert tiny_lm.generate(messages, max_new_tokens=2).steps[0].lens == ()  # off by default


def test_the_live_lens_in_the_running_batch_equals_its_solo_run(tiny_lm):
    from modelito.scheduler import Scheduler

    scheduler = Scheduler(tiny_lm, max_batch=8)
    try:
        messages = [{"role": "user", "content": "Hola"}]
        batched = scheduler.generate(messages, max_new_tokens=5, lens=True, seed=2)
        other = scheduler.generate(messages, max_new_tokens=5, seed=3)  # a neighbour without the lens
        solo = tiny_lm.generate(messages, max_new_tokens=5, lens=True, seed=2)
        assert [[g.top_id for g in s.lens] for s in batched.steps] == [[g.top_id for g in s.lens] for s in solo.steps]
        assert other.steps[0].lens == ()
    finally:
        scheduler.close()


def test_limits_and_remote_engines_say_what_they_cannot_do(tiny_lm):
    with pytest.raises(ParameterError, match="at most 1024 tokens for the logit lens"):
        tiny_lm.lens("hola " * 1100)
    with pytest.raises(PromptTooLongError, match="context"):
        tiny_lm.attribute("hola " * 200)  # within attribution's bound, beyond the model's 256 positions
    with pytest.raises(ParameterError, match="lens=True is not allowed: False with num_beams"):
        tiny_lm.generate("Hola", num_beams=2, do_sample=False, lens=True)
    from modelito.remote import RemoteError, RemoteLM

    remote = RemoteLM.__new__(RemoteLM)
    with pytest.raises(RemoteError, match="does not expose its internals"):
        remote.lens("Hola")


def test_the_page_and_the_cli_reach_them(tiny_lm, tiny_path, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    from test_server import Server

    server = Server(tiny_lm, max_tokens_cap=16)
    try:
        lens = httpx.post(server.url + "/api/lens", json={"prompt": TEXT, "top_n": 2}, timeout=60).json()
        assert np.asarray(lens["top_ids"]).shape[1:] == (len(tiny_lm.prompt_ids(TEXT)[1]), 2)
        attention = httpx.post(server.url + "/api/attention", json={"prompt": TEXT, "layer": 0}, timeout=60).json()
        assert np.allclose(attention["weights"], np.round(tiny_lm.attention(TEXT).weights[0], 4))
        why = httpx.post(server.url + "/api/attribute", json={"messages": [{"role": "user", "content": "Hola"}],
                                                               "prefix": [], "target": None}, timeout=60).json()
        assert sum(why["scores"]) == pytest.approx(1.0, abs=1e-5)
        bad = httpx.post(server.url + "/api/attention", json={"prompt": TEXT, "layer": 99}, timeout=60)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "layer"
    finally:
        server.stop()
    entry = Path(sys.executable).parent / "modelito"
    env = {**os.environ, "MODELITO_HOME": str(tmp_path), "MODELITO_LANG": "en"}
    for command in ("lens", "attention", "attribute"):
        done = subprocess.run([str(entry), command, "-m", str(tiny_path), TEXT], capture_output=True, text=True,
                              timeout=120, env=env)
        assert done.returncode == 0 and done.stdout.strip(), (command, done.stderr)

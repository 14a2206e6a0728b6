"""Independent references for the tests: transformers' own generation code and plain forward passes.

Nothing here imports modelito's engine or sampler: these are the yardsticks modelito is held to.
"""

from __future__ import annotations

import torch


def hf_config(model, **kwargs):
    """transformers' own merge of generate() kwargs over model.generation_config."""
    config, _ = model._prepare_generation_config(None, **kwargs)
    return config


def hf_processors(model, prompt_length: int, **kwargs):
    """The LogitsProcessorList that model.generate(**kwargs) would use, in its order."""
    config = hf_config(model, **kwargs)
    model._prepare_special_tokens(config, device="cpu")
    return model._get_logits_processor(config, input_ids_seq_length=prompt_length, device="cpu")


@torch.inference_mode()
def teacher_forced_logits(model, ids: list[int]) -> torch.Tensor:
    """Raw next-token logits [len(ids), V] (float32) at every position of one sequence, no cache."""
    out = model(input_ids=torch.tensor([ids]), use_cache=False)
    return out.logits[0].float()


def processed_logprobs(model, prompt_ids: list[int], new_ids: list[int], beam: bool = False,
                       **kwargs) -> list[torch.Tensor]:
    """For each generated position, log_softmax of transformers' processed scores [V]. Beam search
    processes log-probabilities (`_beam_search`: log_softmax, then the processors), sampling logits."""
    procs = hf_processors(model, len(prompt_ids), **kwargs)
    full = list(prompt_ids) + list(new_ids)
    logits = teacher_forced_logits(model, full)
    if beam:
        logits = logits.log_softmax(-1)
    out = []
    for i in range(len(new_ids)):
        upto = len(prompt_ids) + i
        scores = procs(torch.tensor([full[:upto]]), logits[upto - 1 : upto].clone())
        out.append(scores[0].log_softmax(-1))
    return out


def chi_square_p(observed: torch.Tensor, expected: torch.Tensor) -> float:
    """p-value of Pearson's chi-square test; bins expected < 5 are merged into one."""
    small = expected < 5
    obs = torch.cat([observed[~small], observed[small].sum().reshape(1)])
    exp = torch.cat([expected[~small], expected[small].sum().reshape(1)])
    keep = exp > 0
    obs, exp = obs[keep].double(), exp[keep].double()
    stat = ((obs - exp) ** 2 / exp).sum()
    dof = len(exp) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.double), stat / 2))

"""Null controls: the same prompt shape with prompts that learned nothing.

A statistic says something about what prompts *learn* only if the learned prompts differ from
prompts that learned nothing. Each analysis runs unchanged on these models (the same forward, the
same code path), and the claims' rules compare the learned prompts with every one of them.
"""
from __future__ import annotations

import torch

from ..models import LoadedCLIP
from ..prompted import PromptedCLIP

__all__ = ["CONTROLS", "POSITIVE_CONTROL", "initial_model", "null_controls"]

CONTROLS = {
    "initial": "the prompts the run started from (its seed's initialisation)",
    "zero": "every learned vector set to 0",
    "random": "random directions with the learned prompts' norm, block by block",
}

# The positive control of the claims of no change (`claims.rules._no_change`): a model of the same task whose
# feature extraction learning did change. Bias tuning (`PromptConfig.bias`, Table 1's BIAS column) adds a learned
# vector to every token's hidden state after every block of both towers, so every later block's attention in the
# image tower ([cls] maps, attention distance and entropy, patch relevance) and in the text tower (EOS attention on
# the class name) reads changed inputs: it alters the feature extraction by construction, as prompts are said not
# to, with as many parameters as 1 + 1 prompts. A statistic that it moves can see a learned alteration at this
# sample size; one it leaves alone cannot show that prompts kept anything. The run itself is
# `analysis_inputs.positive_control_spec`.
POSITIVE_CONTROL = "bias tuning of the same task: Table 1's BIAS run, first seed"


def initial_model(clip: LoadedCLIP, model: PromptedCLIP, seed: int) -> PromptedCLIP:
    """The model a run of `model`'s configuration with `seed` starts from: CoOp seeds the global torch
    stream right before building the prompt learner; the caller's stream is left as it was."""
    device = model.logit_scale.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        return PromptedCLIP(clip, model.config).eval()


@torch.no_grad()
def null_controls(clip: LoadedCLIP, model: PromptedCLIP, seed: int) -> dict[str, PromptedCLIP]:
    """{"initial", "zero", "random"} (see CONTROLS) for a trained `model`; "random" is drawn from `seed`.

    Random prompts keep each learned tensor's Frobenius norm (one prompt block, or one bias), so
    they are as large as the learned ones and differ only in what they point at."""
    controls = {"initial": initial_model(clip, model, seed)}
    zero, random = initial_model(clip, model, seed), initial_model(clip, model, seed)
    generator = torch.Generator().manual_seed(seed)
    learned = dict(model.named_parameters())
    for name, parameter in zero.named_parameters():
        if parameter.requires_grad:
            parameter.zero_()
            target = learned[name].detach()
            direction = torch.randn(target.shape, generator=generator).to(target)
            random.get_parameter(name).copy_(direction * target.norm() / direction.norm().clamp_min(1e-12))
    controls.update(zero=zero, random=random)
    return controls

"""Token groups: which position of a sequence is [cls]/sos, prompt, template, category, '.', …"""
from __future__ import annotations

from ..prompted import PromptedCLIP

__all__ = ["text_token_groups", "text_tokens", "vision_token_groups"]


def vision_token_groups(model: PromptedCLIP) -> list[str]:
    """Labels of the vision sequence: cls, patch × M (row-major), vision_prompt × n_ctx."""
    grid = model.clip.visual.grid_size
    return ["cls"] + ["patch"] * (grid[0] * grid[1]) + ["vision_prompt"] * model.config.n_ctx_vision


def text_token_groups(model: PromptedCLIP, class_name: str, template: str = "a photo of a {}.") -> list[str]:
    """Labels of the text the model reads for `class_name`, from SOS to EOS inclusive.

    sos · prompt (learned text prompts) · template (fixed words) · category (class-name
    tokens) · '.' (the final period) · eos. CLIP's BPE splits at spaces and punctuation, so
    the pieces of the string tokenise to the pieces of the token sequence.
    """
    encode = model.tokenizer.encode  # open_clip's SimpleTokenizer (BPE without sos/eos)
    name = class_name.replace("_", " ")
    if model.config.n_ctx_text:
        before, after = model.prompt_prefix + " ", "."
    else:
        before, after = template.split("{}")
    n_before, n_name, n_after = len(encode(before)), len(encode(name)), len(encode(after))
    n_prompt = model.config.n_ctx_text
    labels = ["sos"] + ["prompt"] * n_prompt + ["template"] * (n_before - n_prompt) + ["category"] * n_name
    labels += ["template"] * n_after
    if after.rstrip().endswith("."):
        labels[-1] = "."
    labels.append("eos")
    if len(labels) != int(model.tokenize([model.prompt_texts([class_name], template)[0]])[0].argmax()) + 1:
        raise ValueError(f"cannot align the tokens of {class_name!r} with template {template!r}")
    return labels


def text_tokens(model: PromptedCLIP, class_name: str, template: str = "a photo of a {}.") -> list[str]:
    """The tokens the model reads for `class_name`, SOS to EOS, as short strings; learned prompts as
    P1, P2, … (their embeddings replaced the words of the string)."""
    groups = text_token_groups(model, class_name, template)
    ids = model.tokenize([model.prompt_texts([class_name], template)[0]])[0][: len(groups)].tolist()
    decode = model.tokenizer.decode
    words, prompt = [], 0
    for token, group in zip(ids, groups):
        if group == "prompt":
            prompt += 1
            words.append(f"P{prompt}")
        else:
            words.append({"sos": "SOS", "eos": "EOS"}.get(group, decode([token]).strip()))
    return words

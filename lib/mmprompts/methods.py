"""The methods by name: what the CLI's --method means, and the readable label of any prompt configuration."""
from __future__ import annotations

from typing import Sequence

from .prompted import PromptConfig

__all__ = ["METHODS", "method_config", "method_label"]


METHODS = ("prompts", "shallow", "text", "vision", "bias", "attention")


def method_config(name: str, n_ctx: int, depth: int, layers: int, bias_layers: Sequence[int] | None = None) -> PromptConfig:
    """A method by name (the CLI's --method): IVLP deep prompts, shallow (input-level) prompts,
    CoOp text-only, VPT vision-only (deep), bias tuning (after `bias_layers`, default every block), or
    attention-bias tuning (a learned bias on the attention scores of every block: page 2's first-way-only
    known answer)."""
    if name == "prompts":
        return PromptConfig.prompts(n_ctx, depth)
    if name == "shallow":
        return PromptConfig.prompts(n_ctx, 1)
    if name == "text":
        return PromptConfig.text_only(n_ctx)
    if name == "vision":
        return PromptConfig.vision_only(n_ctx, depth)
    if name == "bias":
        return PromptConfig.bias(range(layers) if bias_layers is None else bias_layers)
    if name == "attention":
        return PromptConfig.attention_bias(range(layers))
    raise ValueError(f"unknown method {name!r}; choose one of {METHODS}")


def method_label(method: PromptConfig | None) -> str:
    """A readable name: "zero-shot", "4+4 prompts, depth 12", "1+1 prompts, depth 1 (shallow)",
    "4 text prompts (CoOp)", "4 vision prompts, depth 12 (VPT)", "bias after 12 blocks", "attention bias in 12 blocks"."""
    if method is None:
        return "zero-shot"
    m, parts = method, []
    if m.n_ctx_vision and (m.n_ctx_vision, m.depth_vision) == (m.n_ctx_text, m.depth_text):
        parts.append(f"{m.n_ctx_text}+{m.n_ctx_text} prompts, depth {m.depth_text}" + (" (shallow)" if m.depth_text == 1 else ""))
    else:
        if m.n_ctx_text:
            parts.append(f"{m.n_ctx_text} text prompts" + (" (CoOp)" if m.depth_text == 1 else f", depth {m.depth_text}"))
        if m.n_ctx_vision:
            parts.append(f"{m.n_ctx_vision} vision prompts, depth {m.depth_vision}" + ("" if m.n_ctx_text else " (VPT)"))
    if m.bias_vision and m.bias_vision == m.bias_text and m.bias_vision == tuple(range(len(m.bias_vision))):
        parts.append(f"bias after {len(m.bias_vision)} blocks")
    elif m.bias_vision or m.bias_text:
        parts.append(f"bias after vision blocks {list(m.bias_vision)}, text blocks {list(m.bias_text)}")
    if m.attention_bias_vision and m.attention_bias_vision == m.attention_bias_text:
        parts.append(f"attention bias in {len(m.attention_bias_vision)} blocks")
    elif m.attention_bias_vision or m.attention_bias_text:
        parts.append(f"attention bias in vision blocks {list(m.attention_bias_vision)}, "
                     f"text blocks {list(m.attention_bias_text)}")
    return " + ".join(parts) or "nothing learned"

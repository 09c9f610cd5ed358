"""How prompts enter attention (paper Sec. 3.2.1, Appendix B, eqs. 17–32).

For a query token i of the input (not a prompt), with scores s_ij = q_i·k_j/√d over input
keys j and prompt keys k, the prompted update splits as
    u'_i = Σ_j a'_ij v_j + Σ_k a'_ik v_k,     a'_ij = exp(s_ij) / (Z_in + Z_p).
The input part equals the prompt-free update u_i = Σ_j exp(s_ij)/Z_in · v_j scaled by the
ratio of normalisers Z_in / (Z_in + Z_p); the prompt part is the "bias" the prompts add.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..prompted import PromptedCLIP, Trace

__all__ = ["AttentionDecomposition", "decompose_attention"]


@dataclass
class AttentionDecomposition:
    """Per head, for the input (non-prompt) queries: [B, H, L_in, d_head] unless noted."""

    input_part: torch.Tensor
    prompt_part: torch.Tensor
    prompt_free: torch.Tensor  # attention over the input tokens alone
    ratio: torch.Tensor  # Z_in / (Z_in + Z_p), [B, H, L_in, 1]
    actual: torch.Tensor  # the prompted block's attention output (before out_proj)

    @property
    def scaling_error(self) -> float:
        """max |input_part − ratio · prompt_free| (identity a)."""
        return (self.input_part - self.ratio * self.prompt_free).abs().max().item()

    @property
    def sum_error(self) -> float:
        """max |input_part + prompt_part − actual| (identity b)."""
        return (self.input_part + self.prompt_part - self.actual).abs().max().item()


@torch.no_grad()
def decompose_attention(model: PromptedCLIP, images: torch.Tensor, layer: int) -> AttentionDecomposition:
    """Split block `layer`'s attention update of every input token into input and prompt parts."""
    n_prompts = model.config.n_ctx_vision
    if n_prompts == 0:
        raise ValueError("the model has no vision prompts (n_ctx_vision=0)")
    blocks = model.clip.visual.transformer.resblocks
    if not 0 <= layer < len(blocks):
        raise ValueError(f"layer={layer}: must be in 0..{len(blocks) - 1}")
    trace = Trace(keep_hidden=True)
    model.encode_image(images, trace=trace)
    block, hidden = blocks[layer], trace.hidden[layer]
    attn = block.attn
    batch, length, _ = hidden.shape
    q, k, v = F.linear(block.ln_1(hidden), attn.in_proj_weight, attn.in_proj_bias).view(
        batch, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4).double()
    n_in = length - n_prompts
    scores = (q[:, :, :n_in] @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    weights = scores.exp()
    z_in = weights[..., :n_in].sum(-1, keepdim=True)
    z_all = weights.sum(-1, keepdim=True)
    actual = trace.attentions[layer][:, :, :n_in].double() @ v
    return AttentionDecomposition(
        input_part=(weights[..., :n_in] / z_all) @ v[:, :, :n_in],
        prompt_part=(weights[..., n_in:] / z_all) @ v[:, :, n_in:],
        prompt_free=(weights[..., :n_in] / z_in) @ v[:, :, :n_in],
        ratio=z_in / z_all,
        actual=actual,
    )

"""The one explicit forward of both CLIP towers: deep IVLP prompts, bias tuning, attention capture.

Training, evaluation and every analysis call this code, so that what is analysed is exactly
what was trained. It reuses open_clip's weights but runs its own layer loop, because prompts
must be inserted between blocks, biases added after them, and per-head attention
probabilities kept in the autograd graph (open_clip's blocks never return them).

Token layouts (IVLP, the MaPLe/PromptSRC "independent V-L prompting" model):
  vision  [cls, patch_1..patch_M, P_v]    P_v replaced before blocks 1..depth_vision-1
  text    [sos, P_t, rest of "<ctx> <class>.", eos, ...]    P_t replaced at positions 1..n_ctx

Runs stacked in one forward (`train.train_epochs`): every learned tensor may carry a leading run
dimension R (prompts [R, n, D], biases [R, D]); the image batch then holds R run-major blocks
of rows, each block reading its own run's tensors, and the text tower encodes the class
tokens once per run ([R * C] rows, run-major), or each run its own classes (`rows_per_run`).
Unstacked tensors give the one-run forward.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .models import LoadedCLIP

__all__ = ["AttentionParts", "Intervention", "PromptConfig", "PromptTerms", "PromptedCLIP", "Trace"]


@dataclass(frozen=True)
class PromptConfig:
    """What is learned on top of the frozen CLIP. The default learns nothing (zero-shot CLIP).

    n_ctx_* prompts per layer are inserted in the first depth_* blocks of a branch
    (depth 1 = input-level prompts only). bias_* lists the blocks (0-based) after which a
    learnable vector is added to every token.
    """

    n_ctx_vision: int = 0
    n_ctx_text: int = 0
    depth_vision: int = 0
    depth_text: int = 0
    bias_vision: tuple[int, ...] = ()
    bias_text: tuple[int, ...] = ()
    ctx_init: str = "a photo of a"
    init_std: float = 0.02
    # Blocks (0-based) whose attention scores get a learned additive bias per head and key position
    # (input keys only; zero at the start, i.e. CLIP). It can change only the relative attention among
    # the input tokens: the known-answer "first way only" tuning of page 2.
    attention_bias_vision: tuple[int, ...] = ()
    attention_bias_text: tuple[int, ...] = ()

    @classmethod
    def prompts(cls, n_ctx: int, depth: int) -> "PromptConfig":
        """The paper's symmetric deep prompts: n_ctx per branch in the first `depth` blocks."""
        return cls(n_ctx_vision=n_ctx, n_ctx_text=n_ctx, depth_vision=depth, depth_text=depth)

    @classmethod
    def text_only(cls, n_ctx: int) -> "PromptConfig":
        """CoOp: n_ctx learned input-level text prompts, the image tower untouched."""
        return cls(n_ctx_text=n_ctx, depth_text=1)

    @classmethod
    def vision_only(cls, n_ctx: int, depth: int) -> "PromptConfig":
        """VPT (deep): n_ctx vision prompts in the first `depth` blocks, the zero-shot text tower."""
        return cls(n_ctx_vision=n_ctx, depth_vision=depth)

    @classmethod
    def bias(cls, layers: Sequence[int]) -> "PromptConfig":
        """The paper's bias tuning: one vector after each listed block of both branches."""
        return cls(bias_vision=tuple(layers), bias_text=tuple(layers))

    @classmethod
    def attention_bias(cls, layers: Sequence[int]) -> "PromptConfig":
        """Attention-bias tuning (this book's): a learned bias on the attention scores of each listed block of
        both branches, per head and key position; it adds no token and no vector, so it can act only through
        the relative attention among input tokens (the paper's first way)."""
        return cls(attention_bias_vision=tuple(layers), attention_bias_text=tuple(layers))


@dataclass
class AttentionParts:
    """One block's attention output of every query, per head, split as in eq. 12 (Sec. 3.2.1):

        u_i = (1 − s_i) Σ_j r_ij v_j + t_i

      relative  r [B, H, L, L]: the attention among the input keys, renormalised over them (the first way
                acts through it; 0 at the extra keys)
      share     s [B, H, L]: the share of the attention that goes to the extra keys
      term      t [B, H, L, d]: what the extra keys add, Σ_k a_ik v_k (the second way: the prompt term)
    The extra keys are the prompts, or, in zero-shot CLIP's text tower, the template words the prompts
    replace (`Trace.extra`); without extra keys s = t = 0 and r is the attention itself."""

    relative: torch.Tensor
    share: torch.Tensor
    term: torch.Tensor


@dataclass
class Trace:
    """What one forward pass exposes; the single way every analysis observes the model.

    Pass a Trace to `encode_image`/`encode_text`; it is filled block by block:
      attentions  per block, the head-wise probabilities [B, H, L, L]. Under grad mode they
                  stay in the autograd graph: `torch.autograd.grad(y, trace.attentions)`.
      hidden      per block, the residual stream the block reads, after prompt insertion
                  [B, L, D] (only when `keep_hidden`).
      parts       per block, the `AttentionParts` of eq. 12 (only when `keep_parts`), with `extra` the
                  positions counted as extra keys (None: the tower's prompt positions)
      eos         text only: the EOS position of each sequence.
    """

    keep_attention: bool = True
    keep_hidden: bool = False
    keep_parts: bool = False
    extra: slice | None = None
    attentions: list[torch.Tensor] = field(default_factory=list)
    hidden: list[torch.Tensor] = field(default_factory=list)
    parts: list[AttentionParts] = field(default_factory=list)
    eos: torch.Tensor | None = None


@dataclass
class PromptTerms:
    """A tower's fixed prompt terms t (the book's stricter reading of "dataset bias"): per block, the mean term
    at each token position over a dataset's inputs (`analysis.prompt_term_means`).

    per_position  per block [L, D]: the mean term at each position (D = the heads' d concatenated)
    at_eos        text only, per block [D]: the mean at the EOS token, which sits at a different position
                  in each class prompt and is the token the tower reads out
    texts         text only: the class prompts the means were taken over (a replay on other texts is refused)
    """

    per_position: list[torch.Tensor]
    at_eos: list[torch.Tensor] | None = None
    texts: tuple[str, ...] | None = None

    def at(self, block: int, length: int, eos: torch.Tensor | None) -> torch.Tensor:
        """The terms of block `block` for a batch of sequences of `length` tokens, [B or 1, L, D]."""
        terms = self.per_position[block]
        if terms.shape[0] < length:  # longer sequences than the mean was taken over: no term beyond them
            terms = F.pad(terms, (0, 0, 0, length - terms.shape[0]))
        terms = terms[:length][None]
        if self.at_eos is None or eos is None:
            return terms
        terms = terms.repeat(len(eos), 1, 1)
        terms[torch.arange(len(eos), device=eos.device), eos] = self.at_eos[block].to(terms.dtype)
        return terms


@dataclass
class Intervention:
    """Pass to `encode_image` / `encode_text` to replay eq. 12's parts in every block of the tower: the
    attention output of every input token (never of an extra token) becomes (1 − s_i) Σ_j r_ij v_j + t_i
    with v from the forward's own states and r, s, t as given here (per block, recorded by a `Trace` with
    `keep_parts` from this model's forward or another's on the same inputs; None keeps the forward's own).

      relative  per block r [B, H, L, L]
      share     per block s [B, H, L]
      term      per block t [B, H, L, d], or `PromptTerms` (a fixed term per block and position)
      biases    whether the tower's learned biases (bias tuning) are added after its blocks

    This is activation patching: the transplanted r is not recomputed from the changed states, so the
    first way (r) and the second way (s, t and the biases) can be set independently (page 2)."""

    relative: Sequence[torch.Tensor] | None = None
    share: Sequence[torch.Tensor] | None = None
    term: Sequence[torch.Tensor] | PromptTerms | None = None
    biases: bool = True


class PromptedCLIP(nn.Module):
    """A frozen open_clip ViT CLIP with IVLP deep prompts and/or per-block biases."""

    def __init__(self, clip: LoadedCLIP, config: PromptConfig = PromptConfig()):
        super().__init__()
        self.clip = clip.model.eval().requires_grad_(False)
        self.loaded = clip  # the frozen CLIP as loaded: `zero_shot()` builds CLIP's own forward on it
        self.tokenizer = clip.tokenizer
        self.config = config
        visual = self.clip.visual
        width_v, width_t = visual.transformer.width, self.clip.transformer.width
        layers_v, layers_t = len(visual.transformer.resblocks), len(self.clip.transformer.resblocks)
        context = clip.context_length
        _validate(config, layers_v, layers_t, context)

        self.prompt_prefix = self._prompt_prefix(config)
        self.vision_prompts = nn.ParameterList(
            nn.Parameter(torch.randn(config.n_ctx_vision, width_v) * config.init_std)
            for _ in range(config.depth_vision)
        )
        self.text_prompts = nn.ParameterList(
            nn.Parameter(torch.randn(config.n_ctx_text, width_t) * config.init_std)
            for _ in range(config.depth_text)
        )
        if config.n_ctx_text and self.prompt_prefix != _placeholder(config.n_ctx_text):
            with torch.no_grad():  # layer-0 text prompts start as the words of ctx_init
                ids = self.tokenizer([config.ctx_init])[:, 1 : 1 + config.n_ctx_text]
                self.text_prompts[0].copy_(self.clip.token_embedding(ids.to(self._device))[0])
        # Recompute text blocks in the backward pass instead of storing their activations: with
        # learned text prompts every class prompt (1000 for ImageNet) runs through the text tower
        # at every step, and its activations dominate memory. Results are unchanged.
        self.recompute_text = False
        self.vision_bias = nn.ParameterDict({str(i): nn.Parameter(torch.zeros(width_v)) for i in config.bias_vision})
        self.text_bias = nn.ParameterDict({str(i): nn.Parameter(torch.zeros(width_t)) for i in config.bias_text})
        heads_v, heads_t = visual.transformer.resblocks[0].attn.num_heads, self.clip.transformer.resblocks[0].attn.num_heads
        inputs_v = visual.positional_embedding.shape[0]  # [cls] and the patches
        self.vision_attention_bias = nn.ParameterDict(
            {str(i): nn.Parameter(torch.zeros(heads_v, inputs_v)) for i in config.attention_bias_vision})
        self.text_attention_bias = nn.ParameterDict(
            {str(i): nn.Parameter(torch.zeros(heads_t, context)) for i in config.attention_bias_text})
        self.to(self._device)

    # ----------------------------------------------------------------- public API
    @property
    def _device(self) -> torch.device:
        return self.clip.logit_scale.device

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale.exp()

    @property
    def text_is_static(self) -> bool:
        """True when nothing learned touches the text tower (its features can be cached)."""
        c = self.config
        return not c.n_ctx_text and not c.bias_text and not c.attention_bias_text

    def zero_shot(self) -> "PromptedCLIP":
        """Zero-shot CLIP on the same frozen weights (nothing learned), e.g. the reference forward of page 2."""
        return PromptedCLIP(self.loaded)

    def train(self, mode: bool = True) -> "PromptedCLIP":
        super().train(mode)
        self.clip.eval()  # the backbone never leaves eval mode (patch dropout, etc.)
        return self

    def learned_state(self) -> dict[str, torch.Tensor]:
        """Only the learned tensors (prompts and biases): what a run stores."""
        return {k: v.detach().cpu() for k, v in self.state_dict().items() if not k.startswith("clip.")}

    def load_learned_state(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("clip.")]
        if missing or unexpected:
            raise ValueError(f"learned state does not fit {self.config}: missing {missing}, unexpected {unexpected}")

    def prompt_texts(self, class_names: Sequence[str], template: str = "a photo of a {}.") -> list[str]:
        """The strings the text tower reads for each class.

        With text prompts: IVLP's "<ctx words> <class name>." (the template is not used);
        without: the zero-shot template. Underscores in class names become spaces.
        """
        names = [name.replace("_", " ") for name in class_names]
        if self.config.n_ctx_text:
            return [f"{self.prompt_prefix} {name}." for name in names]
        return [template.format(name) for name in names]

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        context = self.clip.positional_embedding.shape[0]
        # one extra slot: a text that fits leaves it empty, a text that does not fills it
        tokens = self.tokenizer(list(texts), context_length=context + 1)
        overflow = tokens[:, context].nonzero().flatten().tolist()
        if overflow:
            raise ValueError(
                f"{texts[overflow[0]]!r} does not fit the text context of {context} tokens "
                f"(with {self.config.n_ctx_text} text prompts); use fewer prompts or a shorter name"
            )
        return tokens[:, :context]

    def encode_text(self, texts: Sequence[str], trace: Trace | None = None,
                    intervention: Intervention | None = None) -> torch.Tensor:
        return self.encode_tokens(self.tokenize(texts).to(self._device), trace, intervention=intervention)

    def encode_tokens(self, tokens: torch.Tensor, trace: Trace | None = None, truncate: bool = True,
                      rows_per_run: Sequence[int] | None = None, intervention: Intervention | None = None) -> torch.Tensor:
        """Text features from token ids [N, context] (unnormalised, like open_clip).

        With causal attention no token after EOS can reach the EOS output, and the positions before
        the first one where the rows differ (SOS, the prompts, the template's first words) hold the
        same states in every row of a run. So by default the tower runs only up to the longest EOS
        and computes those shared positions once per run (not with a `trace`, which records every
        row's attention, nor with an `intervention`, which edits every row's, nor with learned attention
        biases); `truncate=False` runs the full context for every row, as open_clip does.

        Stacked runs read all N rows each, or with `rows_per_run` consecutive blocks of the rows
        (run r its own rows_per_run[r] class prompts; the features come back in the same order).
        """
        eos = tokens.argmax(dim=-1)
        if truncate:
            tokens = tokens[:, : int(eos.max()) + 1]
        runs = _stacked_runs(self.text_prompts, self.text_bias, self.text_attention_bias)
        counts = _rows_per_run(runs, len(tokens), rows_per_run, tokens.device)
        if runs and rows_per_run is None:  # every run reads the same class tokens with its own learned tensors
            tokens, eos = tokens.repeat(runs, 1), eos.repeat(runs)
        plain = trace is None and intervention is None and not len(self.text_attention_bias)
        shared = _shared_length(tokens, eos) if truncate and plain else 0
        if shared > 1:
            x = self._encode_shared_prefix(tokens, eos, shared, counts)
        else:
            x = self._encode_rows(tokens, eos, trace, counts, intervention)
        proj = self.clip.text_projection
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj

    def _encode_rows(self, tokens: torch.Tensor, eos: torch.Tensor, trace: Trace | None,
                     counts: torch.Tensor | None, intervention: Intervention | None = None) -> torch.Tensor:
        """The text tower on every row in full: [N, D] states at EOS before the projection."""
        clip, n_ctx = self.clip, self.config.n_ctx_text
        x = clip.token_embedding(tokens)
        if n_ctx:
            x = torch.cat([x[:, :1], _expand(self.text_prompts[0], x, counts), x[:, 1 + n_ctx :]], dim=1)
        x = x + clip.positional_embedding[: x.shape[1]]
        if trace is not None:
            trace.eos = eos
        x = self._run_blocks(
            clip.transformer.resblocks, x, self.text_prompts, _replace_after_sos, self.text_bias, trace, causal=True,
            counts=counts, prompt_positions=slice(1, 1 + n_ctx) if n_ctx else None, intervention=intervention,
            score_biases=self.text_attention_bias, eos=eos,
        )
        return clip.ln_final(x[torch.arange(x.shape[0], device=x.device), eos])

    def _encode_shared_prefix(self, tokens: torch.Tensor, eos: torch.Tensor, shared: int,
                              counts: torch.Tensor | None) -> torch.Tensor:
        """`_encode_rows` with the first `shared` positions (the same tokens in every row) computed once per run.

        The states are kept flat, [runs * shared + N * rest, D]: each run's shared positions, then
        each row's own; only attention tells them apart (`_shared_prefix_block`)."""
        clip, n_ctx = self.clip, self.config.n_ctx_text
        rows, length = tokens.shape
        runs = 1 if counts is None else len(counts)
        positions = clip.positional_embedding[:length]
        prefix = clip.token_embedding(tokens[:1, :shared]).expand(runs, -1, -1)
        if n_ctx:
            prefix = _with_prompt(prefix, self.text_prompts[0])
        prefix = prefix + positions[:shared]
        x = torch.cat([prefix.flatten(0, 1), (clip.token_embedding(tokens[:, shared:]) + positions[shared:]).flatten(0, 1)])
        layout = _SharedLayout(runs, shared, rows, length - shared, counts)
        for i, block in enumerate(clip.transformer.resblocks):
            if 0 < i < len(self.text_prompts):
                head = _with_prompt(x[: layout.prefix_tokens].view(runs, shared, -1), self.text_prompts[i])
                x = torch.cat([head.flatten(0, 1), x[layout.prefix_tokens :]])
            if self.recompute_text and torch.is_grad_enabled():
                x = checkpoint(_shared_prefix_block, block, x, layout, use_reentrant=False)
            else:
                x = _shared_prefix_block(block, x, layout)
            if str(i) in self.text_bias:
                bias = self.text_bias[str(i)]
                x = x + (bias.to(x.dtype) if bias.dim() == 1 else bias.to(x.dtype)[layout.run_of_token(x.device)])
        at_eos = layout.prefix_tokens + torch.arange(rows, device=x.device) * layout.rest + (eos - shared)
        return clip.ln_final(x[at_eos])

    def encode_image(self, images: torch.Tensor, trace: Trace | None = None,
                     intervention: Intervention | None = None) -> torch.Tensor:
        """Image features [B, d] from normalised images [B, 3, S, S] (unnormalised output)."""
        visual = self.clip.visual
        x = visual.conv1(images.to(visual.conv1.weight.dtype))
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1), x], dim=1)
        x = x + visual.positional_embedding.to(x.dtype)
        if self.config.n_ctx_vision:  # after the positional embedding, before ln_pre (IVLP)
            x = torch.cat([x, _expand(self.vision_prompts[0], x)], dim=1)
        x = visual.ln_pre(x)
        n_ctx = self.config.n_ctx_vision
        x = self._run_blocks(
            visual.transformer.resblocks, x, self.vision_prompts, _replace_last, self.vision_bias, trace, causal=False,
            prompt_positions=slice(x.shape[1] - n_ctx, None) if n_ctx else None, intervention=intervention,
            score_biases=self.vision_attention_bias,
        )
        return visual.ln_post(x[:, 0]) @ visual.proj

    def logits(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """Scaled cosine similarities [B, C] (paper eq. 9/11 before the softmax); [R, B, C] for stacked runs."""
        return self.logit_scale * F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).mT

    def forward(self, images: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
        return self.logits(self.encode_image(images), self.encode_text(texts))

    # ----------------------------------------------------------------- internals
    @staticmethod
    def _prompt_prefix(config: PromptConfig) -> str:
        words = config.ctx_init.split()
        if config.ctx_init and config.n_ctx_text <= len(words):
            return config.ctx_init  # learnable first n_ctx words, the rest stays frozen text
        return _placeholder(config.n_ctx_text)

    def _run_blocks(
        self,
        blocks: nn.ModuleList,
        x: torch.Tensor,
        prompts: nn.ParameterList,
        insert: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor],
        biases: nn.ParameterDict,
        trace: Trace | None,
        causal: bool,
        counts: torch.Tensor | None = None,
        prompt_positions: slice | None = None,
        intervention: Intervention | None = None,
        score_biases: nn.ParameterDict | None = None,
        eos: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if trace is not None and trace.keep_attention and torch.is_grad_enabled() and not x.requires_grad:
            x = x.requires_grad_()  # frozen weights + plain input: keep attention differentiable
        score_biases = score_biases if score_biases is not None else {}
        if intervention is not None and _stacked_runs(prompts, biases, score_biases):
            raise ValueError("interventions evaluate one run: give a model whose learned tensors are not stacked")
        split = None
        if intervention is not None or (trace is not None and trace.keep_parts):
            extra = torch.zeros(x.shape[1], dtype=torch.bool, device=x.device)
            positions = trace.extra if trace is not None and trace.extra is not None else prompt_positions
            if positions is not None:
                extra[positions] = True
            split = _Split(extra, trace if trace is not None and trace.keep_parts else None, intervention, eos)
        for i, block in enumerate(blocks):
            if 0 < i < len(prompts):
                x = insert(x, prompts[i], counts)
            if trace is not None and trace.keep_hidden:
                trace.hidden.append(x)
            score_bias = _score_bias(score_biases[str(i)], x, counts) if str(i) in score_biases else None
            if causal and self.recompute_text and trace is None and split is None and torch.is_grad_enabled():
                x = checkpoint(_block, block, x, causal, None, None, score_bias, use_reentrant=False)
            else:
                x = _block(block, x, causal, trace, split and split.at(i), score_bias)
            if str(i) in biases and (intervention is None or intervention.biases):
                x = _add_bias(x, biases[str(i)], counts)
        return x


@dataclass
class _Split:
    """eq. 12's split inside one tower's layer loop: which key positions are extra, what to record, what to
    replay, and the current block."""

    extra: torch.Tensor  # [L] bool
    trace: Trace | None  # records the parts when given
    intervention: Intervention | None  # replays them when given
    eos: torch.Tensor | None  # text: where each sequence's EOS is (a fixed term's EOS value goes there)
    block: int = 0

    def at(self, block: int) -> "_Split":
        self.block = block
        return self

    def update(self, scores: torch.Tensor, probs: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The attention output [B, H, L, d]: recorded as parts, and with every input query's replaced when
        an intervention replays parts (extra queries keep theirs). A part the intervention replays is not
        computed from this forward unless it is recorded (the transplant replays all three in most arms)."""
        extra = self.extra

        def own_relative() -> torch.Tensor:
            return scores.masked_fill(extra, float("-inf")).softmax(dim=-1)  # every query sees an input key

        def own_share_term() -> tuple[torch.Tensor, torch.Tensor]:
            on_extra = probs.masked_fill(~extra, 0.0)
            return on_extra.sum(-1), on_extra @ v

        replay = self.intervention
        if self.trace is not None:
            relative, (share, term) = own_relative(), own_share_term()
            self.trace.parts.append(AttentionParts(relative, share, term))
            if replay is None:
                return out
            own = {"relative": relative, "share": share, "term": term}
        elif replay is None:
            return out
        else:
            own = {}
            if replay.relative is None:
                own["relative"] = own_relative()
            if replay.share is None or (replay.term is None):
                own["share"], own["term"] = own_share_term()
        b = self.block
        # shapes and dtypes of the forward's own parts (under autocast: the softmax's for r and s, the product's for t)
        relative = _recorded(replay.relative, b, own.get("relative"), scores.shape, probs.dtype, "relative")
        share = _recorded(replay.share, b, own.get("share"), probs.shape[:-1], probs.dtype, "share")
        if isinstance(replay.term, PromptTerms):
            batch, heads, length, width = out.shape
            fixed = replay.term.at(b, length, self.eos).to(out.dtype)
            term = fixed.view(fixed.shape[0], length, heads, width).transpose(1, 2)
        else:
            term = _recorded(replay.term, b, own.get("term"), out.shape, out.dtype, "term")
        update = (1 - share)[..., None] * (relative @ v) + term
        return torch.where(extra[:, None], out, update)


def _recorded(given: Sequence[torch.Tensor] | None, block: int, own: torch.Tensor | None, shape: torch.Size,
              dtype: torch.dtype, what: str) -> torch.Tensor:
    """Block `block`'s replayed tensor, checked against the shape of the forward's own (`own`: used when nothing
    is replayed)."""
    if given is None:
        return own
    if block >= len(given) or given[block].shape != shape:
        got = tuple(given[block].shape) if block < len(given) else f"no block {block + 1}"
        raise ValueError(f"intervention {what} of block {block + 1}: got {got}, this forward needs {tuple(shape)}; "
                         "record the parts on the same inputs (images, class names) with a model of the same shape")
    return given[block].to(dtype)


def _score_bias(bias: torch.Tensor, x: torch.Tensor, counts: torch.Tensor | None) -> torch.Tensor:
    """A learned score bias [H, K] (or stacked [R, H, K]) as an additive mask [1 or N, H, 1, L] on the keys of
    `x` [N, L, D]: its first K keys get it (cut to L when the text is truncated), later keys none."""
    length = x.shape[1]
    bias = bias[..., :length]
    bias = F.pad(bias, (0, length - bias.shape[-1]))
    if bias.dim() == 2:
        return bias[None, :, None]
    return _expand(bias, x, counts)[:, :, None]


def _block(block: nn.Module, x: torch.Tensor, causal: bool, trace: Trace | None, split: _Split | None = None,
           score_bias: torch.Tensor | None = None) -> torch.Tensor:
    """One pre-LN residual block from open_clip's modules, with our attention."""
    x = x + block.ls_1(_attention(block.attn, block.ln_1(x), causal, trace, split, score_bias))
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def _attention(attn: nn.Module, x: torch.Tensor, causal: bool, trace: Trace | None, split: _Split | None = None,
               score_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-head self-attention from open_clip's parameters (in_proj_*, out_proj, num_heads)."""
    batch, length, width = x.shape
    q, k, v = _heads(F.linear(x, attn.in_proj_weight, attn.in_proj_bias), batch, attn.num_heads)
    future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1) if causal else None
    if (trace is None or not trace.keep_attention) and split is None:
        if score_bias is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        else:
            mask = score_bias.to(q.dtype)
            if future is not None:
                mask = mask.masked_fill(future, float("-inf"))
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    else:
        scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
        if score_bias is not None:
            scores = scores + score_bias.to(scores.dtype)
        if future is not None:
            scores = scores.masked_fill(future, float("-inf"))
        probs = scores.softmax(dim=-1)
        if trace is not None and trace.keep_attention:
            trace.attentions.append(probs)
        out = probs @ v
        if split is not None:
            out = split.update(scores, probs, v, out)
    return F.linear(_merge_heads(out), attn.out_proj.weight, attn.out_proj.bias)


def _heads(qkv: torch.Tensor, batch: int, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k, v [batch, heads, length, head width] from the packed projection of `batch` sequences."""
    return qkv.view(batch, -1, 3, heads, qkv.shape[-1] // (3 * heads)).permute(2, 0, 3, 1, 4)


def _merge_heads(out: torch.Tensor) -> torch.Tensor:
    """[batch, heads, length, head width] -> [batch, length, width]."""
    return out.transpose(1, 2).flatten(2)


@dataclass(frozen=True)
class _SharedLayout:
    """Where the states of `_encode_shared_prefix` sit: each run's `shared` positions, then each row's `rest`."""

    runs: int
    shared: int
    rows: int
    rest: int
    counts: torch.Tensor | None  # rows per run (None: one run, unstacked)

    @property
    def prefix_tokens(self) -> int:
        return self.runs * self.shared

    def run_of_token(self, device: torch.device) -> torch.Tensor:
        runs = torch.arange(self.runs, device=device)
        return torch.cat([runs.repeat_interleave(self.shared), runs.repeat_interleave(self.counts * self.rest)])


def _shared_prefix_block(block: nn.Module, x: torch.Tensor, layout: _SharedLayout) -> torch.Tensor:
    """`_block` (causal) on the flat states of `_encode_shared_prefix`: a row's own positions attend to its
    run's shared positions and to its own earlier ones; the shared positions only to earlier shared ones."""
    attn, width, split = block.attn, x.shape[-1], layout.prefix_tokens
    qkv = F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    q_shared, k_shared, v_shared = _heads(qkv[:split], layout.runs, attn.num_heads)
    q_own, k_own, v_own = _heads(qkv[split:], layout.rows, attn.num_heads)
    out_shared = F.scaled_dot_product_attention(q_shared, k_shared, v_shared, is_causal=True)
    if layout.counts is None:
        k_shared, v_shared = k_shared.expand(layout.rows, -1, -1, -1), v_shared.expand(layout.rows, -1, -1, -1)
    else:
        k_shared = k_shared.repeat_interleave(layout.counts, dim=0, output_size=layout.rows)
        v_shared = v_shared.repeat_interleave(layout.counts, dim=0, output_size=layout.rows)
    visible = torch.ones(layout.rest, layout.shared + layout.rest, dtype=torch.bool, device=x.device).tril(layout.shared)
    out_own = F.scaled_dot_product_attention(q_own, torch.cat([k_shared, k_own], dim=2), torch.cat([v_shared, v_own], dim=2),
                                             attn_mask=visible)
    out = torch.cat([_merge_heads(out_shared).reshape(split, width), _merge_heads(out_own).reshape(-1, width)])
    x = x + block.ls_1(F.linear(out, attn.out_proj.weight, attn.out_proj.bias))
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def _shared_length(tokens: torch.Tensor, eos: torch.Tensor) -> int:
    """How many leading positions hold the same token in every row, short of the first EOS (every row
    keeps its EOS among the positions it computes alone)."""
    same = (tokens == tokens[:1]).all(dim=0)
    return min(int(same.long().cumprod(0).sum()), int(eos.min()))


def _with_prompt(prefix: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
    """Shared positions [runs, shared, D] with positions 1..n replaced by a run's prompt [n, D] (or [runs, n, D])."""
    prompt = prompt.to(prefix.dtype)
    prompt = prompt.expand(prefix.shape[0], -1, -1) if prompt.dim() == 2 else prompt
    return torch.cat([prefix[:, :1], prompt, prefix[:, 1 + prompt.shape[1] :]], dim=1)


def _rows_per_run(runs: int, rows: int, rows_per_run: Sequence[int] | None, device: torch.device) -> torch.Tensor | None:
    """The rows each stacked run reads, as a tensor (None for an unstacked model)."""
    if rows_per_run is None:
        return torch.full((runs,), rows, device=device) if runs else None
    if len(rows_per_run) != runs or sum(rows_per_run) != rows:
        raise ValueError(f"rows_per_run={list(rows_per_run)}: give one count per stacked run ({runs}) adding up "
                         f"to the {rows} token rows")
    return torch.tensor(list(rows_per_run), device=device)


def _expand(prompt: torch.Tensor, like: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    """`prompt` [n, D] for every row of `like`; a stacked [R, n, D] for each of R run-major blocks of rows
    (of `counts` rows each, or equal blocks)."""
    prompt = prompt.to(like.dtype)
    if prompt.dim() == 2:
        return prompt.expand(like.shape[0], -1, -1)
    if counts is None:
        return prompt.repeat_interleave(like.shape[0] // prompt.shape[0], dim=0)
    return prompt.repeat_interleave(counts, dim=0, output_size=like.shape[0])


def _add_bias(x: torch.Tensor, bias: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    """`x` [N, L, D] plus a bias [D] on every token; a stacked [R, D] for each of R run-major blocks of rows
    (of `counts` rows each, or equal blocks)."""
    if bias.dim() == 1:
        return x + bias
    if counts is None:
        return (x.unflatten(0, (bias.shape[0], -1)) + bias[:, None, None]).flatten(0, 1)
    return x + bias.repeat_interleave(counts, dim=0, output_size=x.shape[0])[:, None]


def _stacked_runs(prompts: nn.ParameterList, biases: nn.ParameterDict, score_biases=None) -> int:
    """The R of a tower's learned tensors stacked over runs; 0 when they are one run's (or there are none)."""
    for prompt in prompts:
        return prompt.shape[0] if prompt.dim() == 3 else 0
    for bias in biases.values():
        return bias.shape[0] if bias.dim() == 2 else 0
    for bias in (score_biases or {}).values():
        return bias.shape[0] if bias.dim() == 3 else 0
    return 0


def _replace_last(x: torch.Tensor, prompt: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    return torch.cat([x[:, : -prompt.shape[-2]], _expand(prompt, x, counts)], dim=1)


def _replace_after_sos(x: torch.Tensor, prompt: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    return torch.cat([x[:, :1], _expand(prompt, x, counts), x[:, 1 + prompt.shape[-2] :]], dim=1)


def _placeholder(n_ctx: int) -> str:
    return " ".join(["X"] * n_ctx)


def _validate(config: PromptConfig, layers_v: int, layers_t: int, context: int) -> None:
    for branch, n_ctx, depth, layers in (
        ("vision", config.n_ctx_vision, config.depth_vision, layers_v),
        ("text", config.n_ctx_text, config.depth_text, layers_t),
    ):
        if n_ctx < 0 or depth < 0:
            raise ValueError(f"n_ctx_{branch}={n_ctx}, depth_{branch}={depth}: counts must be >= 0")
        if depth > layers:
            raise ValueError(f"depth_{branch}={depth} exceeds the {layers} blocks of the {branch} tower (allowed 0..{layers})")
        if bool(n_ctx) != bool(depth):
            raise ValueError(
                f"n_ctx_{branch}={n_ctx} with depth_{branch}={depth}: set both > 0 to use {branch} prompts, or both to 0"
            )
    # sos + prompts + at least one class token + eos
    if config.n_ctx_text > context - 3:
        raise ValueError(f"n_ctx_text={config.n_ctx_text} does not fit the text context of {context} tokens (max {context - 3})")
    for name, layers, blocks in (("bias_vision", config.bias_vision, layers_v), ("bias_text", config.bias_text, layers_t),
                                 ("attention_bias_vision", config.attention_bias_vision, layers_v),
                                 ("attention_bias_text", config.attention_bias_text, layers_t)):
        bad = [i for i in layers if not 0 <= i < blocks]
        if bad or len(set(layers)) != len(layers):
            raise ValueError(f"{name}={layers}: block indices must be distinct and in 0..{blocks - 1}")
    for branch, n_ctx, layers in (("vision", config.n_ctx_vision, config.attention_bias_vision),
                                  ("text", config.n_ctx_text, config.attention_bias_text)):
        if n_ctx and layers:  # the score bias is indexed by input key position, which prompts would shift
            raise ValueError(f"attention_bias_{branch}={layers} with n_ctx_{branch}={n_ctx}: attention biases and "
                             f"prompts cannot share a tower; learn one or the other in the {branch} tower")

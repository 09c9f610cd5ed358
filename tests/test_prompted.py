"""The prompted forward: exact against open_clip and against a naive IVLP forward."""
from __future__ import annotations

import pytest
import torch

import mmprompts as mp


def randomise_biases(model: mp.PromptedCLIP) -> None:
    with torch.no_grad():
        for bias in list(model.vision_bias.values()) + list(model.text_bias.values()):
            bias.normal_(0, 0.1)


@pytest.mark.parametrize("which", ["tiny_clip", "vitb16"])
def test_no_prompts_equals_open_clip(which, request):
    clip = request.getfixturevalue(which)
    size = clip.image_size
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    tokens = clip.tokenizer(["a photo of a dog.", "a small red cube on grass"])
    # zero-initialised biases on every block must be an exact no-op too
    for config in (mp.PromptConfig(), mp.PromptConfig.bias(range(len(clip.model.transformer.resblocks)))):
        model = mp.PromptedCLIP(clip, config)
        with torch.no_grad():
            assert (model.encode_image(images) - clip.model.encode_image(images)).abs().max() <= 1e-5
            assert (model.encode_tokens(tokens) - clip.model.encode_text(tokens)).abs().max() <= 1e-5


def test_truncated_text_equals_full_context(tiny_clip):
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_text=2, depth_text=3, bias_text=(0, 2)))
    randomise_biases(model)
    tokens = model.tokenize(model.prompt_texts(["dog", "golden retriever puppy", "x"]))
    with torch.no_grad():
        short = model.encode_tokens(tokens)
        full = model.encode_tokens(tokens, truncate=False)
    assert (short - full).abs().max() <= 1e-5  # float reassociation only


def test_captured_attention_is_stochastic_and_causal(tiny_clip, images):
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2))
    vision, text = mp.Trace(), mp.Trace()
    model.encode_image(images, trace=vision)
    model.encode_text(model.prompt_texts(["cat", "dog"]), trace=text)
    assert len(vision.attentions) == 3 and len(text.attentions) == 3
    heads = tiny_clip.model.visual.transformer.resblocks[0].attn.num_heads
    n_tokens = 1 + (32 // 8) ** 2 + 2
    for attn in vision.attentions:
        assert attn.shape == (3, heads, n_tokens, n_tokens)
        assert torch.allclose(attn.sum(-1), torch.ones(()), atol=1e-5)
    for attn in text.attentions:
        assert torch.allclose(attn.sum(-1), torch.ones(()), atol=1e-5)
        assert attn.triu(1).abs().max() == 0  # exactly zero above the diagonal


def test_captured_attention_matches_fast_path(tiny_clip, images):
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 3))
    with torch.no_grad():
        fast = model.encode_image(images)
        traced = model.encode_image(images, trace=mp.Trace())
    assert (fast - traced).abs().max() <= 1e-5


def test_gradients_reach_attention_of_frozen_model(tiny_clip, images):
    model = mp.PromptedCLIP(tiny_clip)  # nothing learnable: the input must carry the graph
    trace = mp.Trace()
    target = model.encode_image(images, trace=trace)[:, 0].sum()
    grads = torch.autograd.grad(target, trace.attentions)
    assert all(g.shape == a.shape for g, a in zip(grads, trace.attentions))
    assert grads[-1].abs().sum() > 0


def test_gradients_reach_only_prompts_and_biases(tiny_clip, images):
    config = mp.PromptConfig(n_ctx_vision=2, n_ctx_text=3, depth_vision=3, depth_text=2, bias_vision=(1,), bias_text=(0, 2))
    model = mp.PromptedCLIP(tiny_clip, config)
    logits = model(images, model.prompt_texts(["cat", "dog", "fish"]))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        "vision_prompts.0", "vision_prompts.1", "vision_prompts.2", "text_prompts.0", "text_prompts.1",
        "vision_bias.1", "text_bias.0", "text_bias.2",
    }
    for name, p in model.named_parameters():
        if name in trainable:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_prompt_positions_and_eos(tiny_clip):
    tok = tiny_clip.tokenizer
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_text=2, depth_text=1))
    assert model.prompt_texts(["golden_retriever"]) == ["a photo of a golden retriever."]
    tokens = model.tokenize(model.prompt_texts(["golden_retriever"]))[0]
    words = tok(["a photo of a golden retriever."])[0]
    assert torch.equal(tokens, words)
    eos = int(tokens.argmax())
    # sos, a, photo, of, a, golden, retriever, '.', eos
    assert tokens[0] == tok.sot_token_id and tokens[eos] == tok.eot_token_id and eos == 8
    # layer-0 prompts start as the embeddings of the first n_ctx words ("a photo")
    embedded = tiny_clip.model.token_embedding(tokens[1:3])
    assert torch.equal(model.text_prompts[0].detach(), embedded)
    # beyond the words of ctx_init: "X" placeholders, random init
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_text=6, depth_text=1))
    assert model.prompt_texts(["cat"]) == ["X X X X X X cat."]
    assert int(model.tokenize(["X X X X X X cat."])[0].argmax()) == 1 + 6 + 2


def test_paper_parameter_counts(vitb16):
    counts = []
    for config in (mp.PromptConfig.prompts(1, 12), mp.PromptConfig.bias(range(12))):
        model = mp.PromptedCLIP(vitb16, config)
        counts.append(sum(p.numel() for p in model.parameters() if p.requires_grad))
    assert counts == [12 * (768 + 512)] * 2 == [15_360, 15_360]


# ---------------------------------------------------------------- naive IVLP reference
def naive_image(model: mp.PromptedCLIP, images: torch.Tensor) -> torch.Tensor:
    """IVLP written out with open_clip's own blocks (nn.MultiheadAttention), no shared code."""
    v = model.clip.visual
    x = v.conv1(images).reshape(images.shape[0], v.conv1.out_channels, -1).permute(0, 2, 1)
    x = torch.cat([v.class_embedding.repeat(images.shape[0], 1, 1), x], dim=1) + v.positional_embedding
    prompts = [p.detach() for p in model.vision_prompts]
    if prompts:
        x = torch.cat([x, prompts[0].repeat(x.shape[0], 1, 1)], dim=1)
    x = v.ln_pre(x)
    for i, block in enumerate(v.transformer.resblocks):
        if 1 <= i < len(prompts):
            n = prompts[i].shape[0]
            x = torch.cat([x[:, : x.shape[1] - n], prompts[i].repeat(x.shape[0], 1, 1)], dim=1)
        x = block(x)
        if str(i) in model.vision_bias:
            x = x + model.vision_bias[str(i)].detach()
    return v.ln_post(x[:, 0]) @ v.proj


def naive_text(model: mp.PromptedCLIP, prompt_strings: list[str]) -> torch.Tensor:
    clip = model.clip
    tokens = model.tokenizer(prompt_strings)  # full context, no truncation
    x = clip.token_embedding(tokens)
    prompts = [p.detach() for p in model.text_prompts]
    for i, block in enumerate(clip.transformer.resblocks):
        if i == 0:
            if prompts:
                n = prompts[0].shape[0]
                x = torch.cat([x[:, :1], prompts[0].repeat(x.shape[0], 1, 1), x[:, 1 + n :]], dim=1)
            x = x + clip.positional_embedding
        elif i < len(prompts):
            n = prompts[i].shape[0]
            x = torch.cat([x[:, :1], prompts[i].repeat(x.shape[0], 1, 1), x[:, 1 + n :]], dim=1)
        x = block(x, attn_mask=clip.attn_mask)
        if str(i) in model.text_bias:
            x = x + model.text_bias[str(i)].detach()
    x = clip.ln_final(x)
    return x[torch.arange(x.shape[0]), tokens.argmax(-1)] @ clip.text_projection


@pytest.mark.parametrize(
    "config",
    [
        mp.PromptConfig.prompts(2, 3),
        mp.PromptConfig.prompts(1, 1),
        mp.PromptConfig(n_ctx_vision=3, n_ctx_text=6, depth_vision=2, depth_text=3, bias_vision=(0, 2), bias_text=(1,)),
        mp.PromptConfig(n_ctx_vision=2, depth_vision=3),
        mp.PromptConfig.bias([0, 1, 2]),
    ],
    ids=["2x3", "shallow", "mixed", "vision-only", "bias"],
)
def test_library_equals_naive_ivlp(tiny_clip, images, config):
    model = mp.PromptedCLIP(tiny_clip, config)
    randomise_biases(model)
    names = ["cat", "sea_lion", "red cube"]
    texts = model.prompt_texts(names)
    with torch.no_grad():
        assert (model.encode_image(images) - naive_image(model, images)).abs().max() <= 1e-5
        assert (model.encode_text(texts) - naive_text(model, texts)).abs().max() <= 1e-5


def test_ivlp_on_vitb16_equals_naive(vitb16):
    model = mp.PromptedCLIP(vitb16, mp.PromptConfig.prompts(1, 12))
    images = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    texts = model.prompt_texts(["golden retriever"])
    with torch.no_grad():
        assert (model.encode_image(images) - naive_image(model, images)).abs().max() <= 1e-5
        assert (model.encode_text(texts) - naive_text(model, texts)).abs().max() <= 1e-5


def test_learned_state_roundtrip(tiny_clip, images):
    config = mp.PromptConfig(n_ctx_vision=2, depth_vision=2, bias_text=(1,))
    a, b = mp.PromptedCLIP(tiny_clip, config), mp.PromptedCLIP(tiny_clip, config)
    randomise_biases(a)
    state = a.learned_state()
    assert set(state) == {"vision_prompts.0", "vision_prompts.1", "text_bias.1"}
    b.load_learned_state(state)
    with torch.no_grad():
        assert torch.equal(a.encode_image(images), b.encode_image(images))
    with pytest.raises(ValueError, match="does not fit"):
        mp.PromptedCLIP(tiny_clip, mp.PromptConfig.bias([0])).load_learned_state(state)


@pytest.mark.parametrize(
    "config, message",
    [
        (mp.PromptConfig(n_ctx_text=30, depth_text=1), "n_ctx_text=30 does not fit the text context of 32"),
        (mp.PromptConfig(n_ctx_vision=2, depth_vision=4), "depth_vision=4 exceeds the 3 blocks"),
        (mp.PromptConfig(n_ctx_text=-1, depth_text=1), "counts must be >= 0"),
        (mp.PromptConfig(n_ctx_vision=2, depth_vision=0), "set both > 0"),
        (mp.PromptConfig(bias_text=(3,)), r"bias_text=\(3,\): block indices must be distinct and in 0..2"),
    ],
)
def test_bad_prompt_configs(tiny_clip, config, message):
    with pytest.raises(ValueError, match=message):
        mp.PromptedCLIP(tiny_clip, config)


def test_class_name_too_long_for_context(tiny_clip):
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_text=20, depth_text=1))
    with pytest.raises(ValueError, match="does not fit the text context of 32 tokens"):
        model.tokenize(model.prompt_texts(["a very long class name with many many words in it"]))


def test_backbone_stays_in_eval_mode(tiny_clip):
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(1, 1)).train()
    assert model.training and not model.clip.training
    assert not any(m.training for m in model.clip.modules())


def test_text_checkpointing_gives_the_same_features_and_gradients(tiny_clip, monkeypatch):
    from mmprompts import prompted

    calls = []
    real = prompted.checkpoint
    monkeypatch.setattr(prompted, "checkpoint", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    torch.manual_seed(0)
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_text=2, depth_text=3, bias_text=(0, 2)))
    randomise_biases(model)
    texts = model.prompt_texts(["dog", "red fire truck", "cat"])

    def run(checkpointing: bool):
        model.recompute_text = checkpointing
        model.zero_grad()
        features = model.encode_text(texts)
        features.square().sum().backward()
        return features.detach(), [p.grad.clone() for p in model.parameters() if p.requires_grad]

    plain, plain_grads = run(False)
    assert not calls
    recomputed, recomputed_grads = run(True)
    assert len(calls) == len(tiny_clip.model.transformer.resblocks)  # every text block, no image block
    assert torch.allclose(plain, recomputed, atol=1e-6)
    assert len(plain_grads) == 5 and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain_grads, recomputed_grads))


@pytest.mark.parametrize("config, template", [
    (mp.PromptConfig(n_ctx_text=2, depth_text=3, bias_text=(0, 2)), "a photo of a {}."),  # "a photo of a" shared
    (mp.PromptConfig.prompts(6, 3), "a photo of a {}."),  # SOS and six placeholder prompts shared
    (mp.PromptConfig.bias([0, 1, 2]), "{} texture."),  # only SOS shared
    (mp.PromptConfig(), "a photo of a {}."),  # zero-shot: SOS + "a photo of a"
], ids=["2-prompts", "6-prompts", "bias", "zero-shot"])
def test_shared_text_positions_computed_once_equal_every_row_in_full(tiny_clip, config, template):
    """The default text forward computes the positions every class prompt shares once (per run): the features
    and the learned tensors' gradients equal those of the full forward of every row."""
    model = mp.PromptedCLIP(tiny_clip, config)
    randomise_biases(model)
    tokens = model.tokenize(model.prompt_texts(["dog", "golden retriever puppy", "x"], template))
    shared = model.encode_tokens(tokens)
    full = model.encode_tokens(tokens, truncate=False)
    assert (shared - full).abs().max() <= 1e-5
    params = [p for name, p in model.named_parameters() if p.requires_grad and name.startswith("text_")]
    if params:
        grads = torch.autograd.grad(shared.square().sum(), params)
        expected = torch.autograd.grad(full.square().sum(), params)
        for g, e in zip(grads, expected):
            assert (g - e).abs().max() <= 1e-5 * e.abs().max()


def test_stacked_runs_read_their_own_classes(tiny_clip):
    """`rows_per_run`: run r encodes only its own class prompts with its own learned tensors (features and
    gradients as each run alone)."""
    from torch.func import functional_call

    config = mp.PromptConfig(n_ctx_text=2, depth_text=3, bias_text=(0, 2))
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(mp.PromptedCLIP(tiny_clip, config))
        randomise_biases(models[-1])
    names = [n for n, p in models[0].named_parameters() if p.requires_grad]
    stacked = {n: torch.stack([m.get_parameter(n).detach() for m in models]).requires_grad_() for n in names}
    classes = [["dog", "cat"], ["golden retriever puppy", "x", "fish", "a b c"], ["zebra"]]
    tokens = [models[0].tokenize(models[0].prompt_texts(c)) for c in classes]

    class Text(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, tokens, rows):
            return self.model.encode_tokens(tokens, rows_per_run=rows)

    together = functional_call(Text(models[0]), {f"model.{n}": t for n, t in stacked.items()},
                               (torch.cat(tokens), [2, 4, 1]))
    together.square().sum().backward()
    for r, (model, own) in enumerate(zip(models, together.split([2, 4, 1]))):
        alone = model.encode_tokens(tokens[r], truncate=False)
        assert (own - alone).abs().max() <= 1e-5
        alone.square().sum().backward()
        for name in names:
            expected = model.get_parameter(name).grad
            assert (stacked[name].grad[r] - expected).abs().max() <= 1e-5 * expected.abs().max(), (r, name)
    with pytest.raises(ValueError, match=r"rows_per_run=\[2, 4\]: give one count per stacked run \(3\)"):
        functional_call(Text(models[0]), {f"model.{n}": t for n, t in stacked.items()}, (torch.cat(tokens), [2, 4]))

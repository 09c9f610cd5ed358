"""The arms of eq. 12 (Sec. 3.2.1) against a naive per-token, per-head loop written here from open_clip's
weights, independently of `PromptedCLIP`'s forward."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import mmprompts as mp
from mmprompts.analysis import arm_correct, intervened_logits, prompt_term_means
from mmprompts.prompted import ARMS, Intervention

CLASSES = ["cat", "sea lion", "red fox"]


def prompted_model(tiny_clip, config, scale=0.5, seed=3):
    """Prompts and biases large enough that every arm differs from the others."""
    torch.manual_seed(seed)
    model = mp.PromptedCLIP(tiny_clip, config)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn_like(p) * scale)
    return model.eval()


# ----------------------------------------------------------------------------- the naive reference
def naive_attention(block, x, prompt_rows, arm, causal, constant=None, record=None):
    """Block attention output [L, D] (after out_proj) for one sequence x [L, D], one query and one head at a time."""
    attn = block.attn
    length, width = x.shape
    heads = attn.num_heads
    dh = width // heads
    qkv = x @ attn.in_proj_weight.T + attn.in_proj_bias
    q, k, v = qkv[:, :width], qkv[:, width:2 * width], qkv[:, 2 * width:]
    out = torch.zeros(length, width, dtype=torch.float64)
    term = torch.zeros(length, width, dtype=torch.float64)
    for i in range(length):
        for h in range(heads):
            cols = slice(h * dh, (h + 1) * dh)
            visible = [j for j in range(length) if not causal or j <= i]
            s = {j: float(q[i, cols] @ k[j, cols]) / math.sqrt(dh) for j in visible}
            z_all = sum(math.exp(s[j]) for j in visible)
            inputs = [j for j in visible if j not in prompt_rows]
            prompts = [j for j in visible if j in prompt_rows]
            z_in = sum(math.exp(s[j]) for j in inputs)
            full = sum(math.exp(s[j]) / z_all * v[j, cols].double() for j in visible)
            prompt_part = sum((math.exp(s[j]) / z_all * v[j, cols].double() for j in prompts),
                              torch.zeros(dh, dtype=torch.float64))
            renormalised = sum(math.exp(s[j]) / z_in * v[j, cols].double() for j in inputs)
            if i not in prompt_rows:
                term[i, cols] = prompt_part
            if i in prompt_rows or arm == "full":
                out[i, cols] = full
            elif arm == "reweighting":
                out[i, cols] = sum(math.exp(s[j]) / z_all * v[j, cols].double() for j in inputs)
            elif arm == "reweighting-renormalised":
                out[i, cols] = renormalised
            elif arm == "bias":
                out[i, cols] = renormalised + prompt_part
            else:
                out[i, cols] = renormalised + constant[i, cols]
    if record is not None:
        record.append(term)
    return out @ attn.out_proj.weight.T.double() + attn.out_proj.bias.double()


def naive_blocks(model, blocks, x, prompts, prompt_rows, biases, arm, causal, constants=None, record=None, eos=None):
    x = x.double()
    for b, block in enumerate(blocks):
        if 0 < b < len(prompts):
            x = x.clone()
            x[sorted(prompt_rows)] = prompts[b].double()
        constant = None
        if constants is not None:
            constant = constants[b]
        block = _double(block)
        h = block.ln_1(x)
        x = x + naive_attention(block, h, prompt_rows, arm, causal, constant, record)
        x = x + block.mlp(block.ln_2(x))
        if str(b) in biases and not arm.startswith("reweighting"):
            x = x + biases[str(b)].double()
    return x


_DOUBLE: dict[int, torch.nn.Module] = {}


def _double(block):
    """A float64 copy of an open_clip block (made once per block)."""
    import copy
    if id(block) not in _DOUBLE:
        _DOUBLE[id(block)] = copy.deepcopy(block).double().requires_grad_(False)
    return _DOUBLE[id(block)]


@torch.no_grad()
def naive_image(model, image, arm, constants=None, record=None):
    visual = model.clip.visual
    n = model.config.n_ctx_vision
    x = visual.conv1(image[None]).flatten(2).transpose(1, 2)[0]
    x = torch.cat([visual.class_embedding[None], x]) + visual.positional_embedding
    if n:
        x = torch.cat([x, model.vision_prompts[0]])
    x = visual.ln_pre(x)
    rows = set(range(x.shape[0] - n, x.shape[0]))
    x = naive_blocks(model, visual.transformer.resblocks, x, list(model.vision_prompts), rows, model.vision_bias, arm,
                     False, constants, record)
    return (F.layer_norm(x[0], (x.shape[-1],), visual.ln_post.weight.double(), visual.ln_post.bias.double())
            @ visual.proj.double())


@torch.no_grad()
def naive_text(model, text, arm, constants=None, record=None):
    clip = model.clip
    n = model.config.n_ctx_text
    tokens = model.tokenize([text])[0]
    eos = int(tokens.argmax())
    x = clip.token_embedding(tokens)
    if n:
        x = torch.cat([x[:1], model.text_prompts[0], x[1 + n:]])
    x = x + clip.positional_embedding
    rows = set(range(1, 1 + n))
    per_position = None
    if constants is not None:  # the EOS term sits at this text's EOS position
        per_position = []
        for block_terms, block_eos in constants:
            t = block_terms.clone()
            t[eos] = block_eos
            per_position.append(t)
    x = naive_blocks(model, clip.transformer.resblocks, x, list(model.text_prompts), rows, model.text_bias, arm,
                     True, per_position, record)
    x = F.layer_norm(x[eos], (x.shape[-1],), clip.ln_final.weight.double(), clip.ln_final.bias.double())
    return x @ clip.text_projection.double(), eos


def naive_features(model, images, arm, image_constants, text_constants):
    """The naive image features [B, d] and class text features [C, d] of one arm in both towers."""
    img = torch.stack([naive_image(model, im, arm, image_constants if arm == "constant-bias" else None) for im in images])
    txt = torch.stack([naive_text(model, t, arm, text_constants if arm == "constant-bias" else None)[0]
                       for t in model.prompt_texts(CLASSES)])
    return img, txt


def naive_logits(features, arm, branch, scale):
    img = features[arm if branch in ("image", "both") else "full"][0]
    txt = features[arm if branch in ("text", "both") else "full"][1]
    return scale.double() * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T


def naive_means(model, images):
    """The naive forward's mean prompt terms: per block and position over images; per position before EOS and at EOS
    over the class texts."""
    image_terms = None
    for im in images:
        record = []
        naive_image(model, im, "full", record=record)
        image_terms = record if image_terms is None else [a + b for a, b in zip(image_terms, record)]
    image_terms = [t / len(images) for t in image_terms]
    records, eoss = [], []
    for text in model.prompt_texts(CLASSES):
        record = []
        _, eos = naive_text(model, text, "full", record=record)
        records.append(record)
        eoss.append(eos)
    text_terms = []
    for b in range(len(records[0])):
        length = records[0][b].shape[0]
        sums, counts = torch.zeros_like(records[0][b]), torch.zeros(length, 1, dtype=torch.float64)
        for record, eos in zip(records, eoss):
            sums[:eos] += record[b][:eos]
            counts[:eos] += 1
        at_eos = torch.stack([record[b][eos] for record, eos in zip(records, eoss)]).mean(0)
        text_terms.append((sums / counts.clamp_min(1), at_eos))
    return image_terms, text_terms


# ----------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def naive_case(tiny_clip):
    """Deep prompts in the first 2 of 3 blocks (block 3 carries them forward) and a bias after block 1;
    the naive features of every arm, with the constant terms from "training" images other than the test ones."""
    config = mp.PromptConfig(n_ctx_vision=2, n_ctx_text=2, depth_vision=2, depth_text=2, bias_vision=(1,), bias_text=(1,))
    model = prompted_model(tiny_clip, config)
    g = torch.Generator().manual_seed(1)
    images = torch.randn(3, 3, tiny_clip.image_size, tiny_clip.image_size, generator=g)
    train_images = torch.randn(3, 3, tiny_clip.image_size, tiny_clip.image_size, generator=g)
    constant = prompt_term_means(model, [train_images[:2], train_images[2:]], CLASSES)
    image_terms, text_terms = naive_means(model, train_images)
    features = {arm: naive_features(model, images, arm, image_terms, text_terms) for arm in ARMS}
    return model, images, constant, features


@pytest.mark.parametrize("arm", ARMS)
@pytest.mark.parametrize("branch", ["image", "text", "both"])
def test_arms_equal_a_naive_per_token_loop(naive_case, arm, branch):
    model, images, constant, features = naive_case
    got = intervened_logits(model, images, CLASSES, arm=arm, branch=branch, constant=constant)
    want = naive_logits(features, arm, branch, model.logit_scale)
    assert torch.allclose(got.double(), want, atol=2e-4), (got - want).abs().max()


def test_prompt_term_means_equal_the_naive_means(tiny_clip, images):
    model = prompted_model(tiny_clip, mp.PromptConfig.prompts(2, 3))
    constant = prompt_term_means(model, [images], CLASSES)
    image_terms, text_terms = naive_means(model, images)
    for b in range(3):
        assert torch.allclose(constant["image"].per_position[b].double(), image_terms[b], atol=1e-5)
        length = constant["text"].per_position[b].shape[0]
        assert torch.allclose(constant["text"].per_position[b].double(), text_terms[b][0][:length], atol=1e-5)
        assert torch.allclose(constant["text"].at_eos[b].double(), text_terms[b][1], atol=1e-5)


def test_full_arm_is_the_normal_forward(tiny_clip, images):
    model = prompted_model(tiny_clip, mp.PromptConfig.prompts(2, 3), scale=0.02)
    for branch in ("image", "text", "both"):
        got = intervened_logits(model, images, CLASSES, arm="full", branch=branch)
        assert torch.allclose(got, model(images, model.prompt_texts(CLASSES)), atol=1e-5)


def test_without_prompts_every_arm_is_zero_shot_clip(tiny_clip, images):
    model = mp.PromptedCLIP(tiny_clip)
    constant = prompt_term_means(model, [images], CLASSES)
    assert constant == {}  # no prompt, no prompt term
    clip = model(images, model.prompt_texts(CLASSES))
    for arm in ARMS:
        got = intervened_logits(model, images, CLASSES, arm=arm, branch="both", constant=constant)
        assert torch.allclose(got, clip, atol=1e-5), arm


def test_each_arm_changes_the_logits_when_prompts_are_not_zero(tiny_clip, images):
    model = prompted_model(tiny_clip, mp.PromptConfig.prompts(2, 3))
    constant = prompt_term_means(model, [images.flip(0)], CLASSES)
    logits = {arm: intervened_logits(model, images, CLASSES, arm=arm, branch="both", constant=constant) for arm in ARMS}
    for a in ARMS:
        for b in ARMS:
            if a < b:
                assert (logits[a] - logits[b]).abs().max() > 1e-3, (a, b)


def test_bias_tuning_has_no_reweighting(tiny_clip, images):
    """A bias-tuned model: the second way is all it has, so bias and constant-bias equal the model and both
    re-weighting arms equal zero-shot CLIP."""
    model = prompted_model(tiny_clip, mp.PromptConfig.bias(range(3)))
    clip = mp.PromptedCLIP(tiny_clip)
    texts = CLASSES
    constant = prompt_term_means(model, [images], texts)
    full = model(images, model.prompt_texts(texts))
    zero_shot = clip(images, clip.prompt_texts(texts))
    assert (full - zero_shot).abs().max() > 1e-3
    for arm, want in (("bias", full), ("constant-bias", full), ("reweighting", zero_shot),
                      ("reweighting-renormalised", zero_shot)):
        assert torch.allclose(intervened_logits(model, images, texts, arm=arm, branch="both", constant=constant), want,
                              atol=1e-5), arm


@pytest.mark.parametrize("config", [mp.PromptConfig.prompts(2, 3), mp.PromptConfig.bias(range(3)),
                                    mp.PromptConfig(n_ctx_vision=2, depth_vision=3, bias_text=(0, 2))])
def test_arm_correct_agrees_with_the_logits(tiny_clip, images, config):
    model = prompted_model(tiny_clip, config, scale=1.0)
    constant = prompt_term_means(model, [images], CLASSES)
    labels = torch.tensor([0, 1, 2])
    correct = arm_correct(model, [(images[:2], labels[:2]), (images[2:], labels[2:])], CLASSES, constant)
    for (branch, arm), hits in correct.items():
        want = intervened_logits(model, images, CLASSES, arm=arm, branch=branch, constant=constant).argmax(-1) == labels
        assert torch.equal(hits, want), (branch, arm)


def test_bad_arms_and_branches_are_named(tiny_clip, images):
    model = prompted_model(tiny_clip, mp.PromptConfig.prompts(2, 3))
    with pytest.raises(ValueError, match="arm='biased'"):
        Intervention("biased")
    with pytest.raises(ValueError, match="branch='vision'"):
        intervened_logits(model, images, CLASSES, arm="bias", branch="vision")
    with pytest.raises(ValueError, match="prompt_term_means"):
        intervened_logits(model, images, CLASSES, arm="constant-bias", branch="image")


# ----------------------------------------------------------------------------- null controls
def test_null_controls_keep_the_shape_and_learn_nothing(tiny_clip):
    from mmprompts.analysis import initial_model, null_controls

    config = mp.PromptConfig.prompts(2, 3)
    torch.manual_seed(7)
    started = mp.PromptedCLIP(tiny_clip, config)  # what a run with seed 7 starts from
    model = prompted_model(tiny_clip, config)
    state = torch.get_rng_state()
    controls = null_controls(tiny_clip, model, seed=7)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream is untouched
    learned = dict(model.named_parameters())
    for name, parameter in started.named_parameters():
        if not parameter.requires_grad:
            continue
        assert torch.equal(controls["initial"].get_parameter(name), parameter)
        assert torch.equal(initial_model(tiny_clip, model, 7).get_parameter(name), parameter)
        assert not controls["zero"].get_parameter(name).any()
        random = controls["random"].get_parameter(name)
        assert random.norm().item() == pytest.approx(learned[name].norm().item(), rel=1e-5)
        assert not torch.allclose(random, learned[name])
    again = null_controls(tiny_clip, model, seed=7)["random"]
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), controls["random"].parameters()))

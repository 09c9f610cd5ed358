"""The transplant factorial of eq. 12 (Sec. 3.2.1) against a naive float64 per-token, per-head loop written
here from open_clip's weights, independently of `PromptedCLIP`'s forward; and its exact corners."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import mmprompts as mp
from mmprompts.analysis import ARMS, arm_correct, intervened_logits, prompt_term_means

CLASSES = ["cat", "sea lion", "red fox"]


def prompted_model(tiny_clip, config, scale=0.5, seed=3):
    """Learned tensors large enough that every arm differs from the others."""
    torch.manual_seed(seed)
    model = mp.PromptedCLIP(tiny_clip, config)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn_like(p) * scale)
    return model.eval()


# ----------------------------------------------------------------------------- the naive reference
_DOUBLE: dict[int, torch.nn.Module] = {}


def _double(block):
    """A float64 copy of an open_clip block (made once per block)."""
    if id(block) not in _DOUBLE:
        _DOUBLE[id(block)] = copy.deepcopy(block).double().requires_grad_(False)
    return _DOUBLE[id(block)]


def naive_attention(block, x, extra, causal, score_bias=None, replay=None):
    """The attention output [L, D] of one sequence x [L, D] (after out_proj), one query and one head at a time,
    and its parts {(i, h): (r {j: r_ij}, s_i, t_i)} over the keys in `extra`; with `replay` (parts of the same
    kind, from any forward) every input query's output is (1 − s) Σ_j r_ij v_j + t."""
    attn = block.attn
    length, width = x.shape
    heads = attn.num_heads
    dh = width // heads
    qkv = x @ attn.in_proj_weight.T + attn.in_proj_bias
    q, k, v = qkv[:, :width], qkv[:, width:2 * width], qkv[:, 2 * width:]
    out = torch.zeros(length, width, dtype=torch.float64)
    parts = {}
    for i in range(length):
        for h in range(heads):
            cols = slice(h * dh, (h + 1) * dh)
            visible = [j for j in range(length) if not causal or j <= i]
            s = {j: float((q[i, cols] @ k[j, cols]).detach()) / math.sqrt(dh) + (float(score_bias[h, j].detach()) if score_bias is not None
                                                                      and j < score_bias.shape[1] else 0.0)
                 for j in visible}
            z_all = sum(math.exp(s[j]) for j in visible)
            inputs = [j for j in visible if j not in extra]
            z_in = sum(math.exp(s[j]) for j in inputs)
            share = sum(math.exp(s[j]) for j in visible if j in extra) / z_all
            term = sum((math.exp(s[j]) / z_all * v[j, cols] for j in visible if j in extra),
                       torch.zeros(dh, dtype=torch.float64))
            relative = {j: math.exp(s[j]) / z_in for j in inputs}
            parts[(i, h)] = (relative, share, term)
            out[i, cols] = sum(math.exp(s[j]) / z_all * v[j, cols] for j in visible)
            if replay is not None and i not in extra:
                r, s_, t = replay[(i, h)]
                out[i, cols] = (1 - s_) * sum((w * v[j, cols] for j, w in r.items()),
                                              torch.zeros(dh, dtype=torch.float64)) + t
    return out @ attn.out_proj.weight.T.double() + attn.out_proj.bias.double(), parts


def naive_tower(blocks, x, prompts, prompt_rows, extra, biases, causal, score_biases=None, replay=None,
                add_biases=True):
    """Every block of one tower on one sequence; returns the final states and each block's parts."""
    x = x.double()
    recorded = []
    for b, block in enumerate(blocks):
        if 0 < b < len(prompts):
            x = x.clone()
            x[prompt_rows] = prompts[b].double()
        block = _double(block)
        bias = score_biases.get(str(b)) if score_biases is not None else None
        update, parts = naive_attention(block, block.ln_1(x), extra, causal, bias,
                                        None if replay is None else replay[b])
        recorded.append(parts)
        x = x + update
        x = x + block.mlp(block.ln_2(x))
        if str(b) in biases and add_biases:
            x = x + biases[str(b)].double()
    return x, recorded


def naive_image(model, image, replay=None, add_biases=True, prompts=True):
    """Image features [d] and parts per block; `prompts=False` runs zero-shot CLIP."""
    visual = model.clip.visual
    n = model.config.n_ctx_vision if prompts else 0
    x = visual.conv1(image[None]).flatten(2).transpose(1, 2)[0]
    x = torch.cat([visual.class_embedding[None], x]) + visual.positional_embedding
    if n:
        x = torch.cat([x, model.vision_prompts[0]])
    x = visual.ln_pre(x)
    rows = list(range(x.shape[0] - n, x.shape[0]))
    x, parts = naive_tower(visual.transformer.resblocks, x, list(model.vision_prompts) if prompts else [], rows,
                           set(rows), model.vision_bias if prompts else {}, False,
                           dict(model.vision_attention_bias) if prompts else None, replay, add_biases)
    features = F.layer_norm(x[0], (x.shape[-1],), visual.ln_post.weight.double(), visual.ln_post.bias.double())
    return features @ visual.proj.double(), parts


def naive_text(model, text, replay=None, add_biases=True, prompts=True):
    """Class text features [d], parts per block and the EOS position; `prompts=False` runs zero-shot CLIP on the
    same tokens, its extra keys the positions the prompts occupy (the template words)."""
    clip = model.clip
    n = model.config.n_ctx_text
    tokens = model.tokenize([text])[0]
    eos = int(tokens.argmax())
    x = clip.token_embedding(tokens)
    if n and prompts:
        x = torch.cat([x[:1], model.text_prompts[0], x[1 + n:]])
    x = (x + clip.positional_embedding)[: eos + 1]
    rows = list(range(1, 1 + n))
    x, parts = naive_tower(clip.transformer.resblocks, x, list(model.text_prompts) if prompts else [], rows, set(rows),
                           model.text_bias if prompts else {}, True,
                           dict(model.text_attention_bias) if prompts else None, replay, add_biases)
    x = F.layer_norm(x[eos], (x.shape[-1],), clip.ln_final.weight.double(), clip.ln_final.bias.double())
    return x @ clip.text_projection.double(), parts, eos


def fixed_term(parts, means):
    """The parts with every t replaced by the mean term at its position ({(i, h): t})."""
    return [{key: (r, s, means[b][key]) for key, (r, s, _) in block.items()} for b, block in enumerate(parts)]


def cell(clip_parts, model_parts, arm, means=None):
    """The replayed parts of one arm: r from one forward, (s, t) from one forward (or t fixed)."""
    attention, term = ARMS[arm]
    r_from = clip_parts if attention == "clip" else model_parts
    st_from = clip_parts if term == "clip" else model_parts
    if term == "mean":
        st_from = fixed_term(model_parts, means)
    return [{key: (r_from[b][key][0], *st_from[b][key][1:]) for key in model_parts[b]} for b in range(len(model_parts))]


def image_means(model, images):
    """Per block, {(i, h): mean t over the images} of the model's own image forward."""
    sums = None
    for image in images:
        _, parts = naive_image(model, image)
        terms = [{key: t for key, (_, _, t) in block.items()} for block in parts]
        sums = terms if sums is None else [{k: a[k] + b[k] for k in a} for a, b in zip(sums, terms)]
    return [{k: v / len(images) for k, v in block.items()} for block in sums]


def text_means(model, texts):
    """Per text, per block, {(i, h): its fixed term}: the mean t over the class texts at each position before
    EOS, and at the text's own EOS the mean t at EOS."""
    runs = [naive_text(model, text) for text in texts]
    heads = model.clip.transformer.resblocks[0].attn.num_heads
    out = []
    for _, own, eos in runs:
        blocks = []
        for b in range(len(own)):
            means = {}
            for (i, h) in own[b]:
                if i == eos:
                    means[(i, h)] = torch.stack([p[b][(e, h)][2] for _, p, e in runs]).mean(0)
                else:
                    means[(i, h)] = torch.stack([p[b][(i, h)][2] for _, p, e in runs if i < e]).mean(0)
            blocks.append(means)
        out.append(blocks)
    return out


def naive_logits(model, images, arm, branch, train_images=None):
    """Logits [B, C] of one arm with the naive loop: both forwards recorded, then replayed."""
    texts = model.prompt_texts(CLASSES)
    edit_image, edit_text = branch in ("image", "both"), branch in ("text", "both")
    image_fixed = image_means(model, train_images) if ARMS[arm][1] == "mean" and edit_image else None
    text_fixed = text_means(model, texts) if ARMS[arm][1] == "mean" and edit_text else None
    keeps_biases = ARMS[arm][1] != "clip"
    features = []
    for image in images:
        full, model_parts = naive_image(model, image)
        if not edit_image:
            features.append(full)
            continue
        _, clip_parts = naive_image(model, image, prompts=False)
        n, padded = model.config.n_ctx_vision, []
        for block in clip_parts:  # CLIP has no prompt tokens: no key, share or term there
            padded.append({key: (r, s, t) for key, (r, s, t) in block.items()})
        length = max(i for i, _ in model_parts[0]) + 1
        dh = next(iter(model_parts[0].values()))[2].shape[0]
        for block in padded:
            for i in range(length - n, length):
                for h in range(model.clip.visual.transformer.resblocks[0].attn.num_heads):
                    block[(i, h)] = ({}, 0.0, torch.zeros(dh, dtype=torch.float64))
        features.append(naive_image(model, image, cell(padded, model_parts, arm, image_fixed), keeps_biases)[0])
    text_features = []
    for index, text in enumerate(texts):
        full, model_parts, _ = naive_text(model, text)
        if not edit_text:
            text_features.append(full)
            continue
        _, clip_parts, _ = naive_text(model, text, prompts=False)
        fixed = None if text_fixed is None else text_fixed[index]
        text_features.append(naive_text(model, text, cell(clip_parts, model_parts, arm, fixed), keeps_biases)[0])
    img, txt = torch.stack(features), torch.stack(text_features)
    return model.logit_scale.double() * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T


# ----------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def naive_case(tiny_clip):
    """Deep prompts in the first 2 of 3 blocks (block 3 carries them forward) and a bias after block 2; the
    fixed terms from "training" images other than the test ones."""
    config = mp.PromptConfig(n_ctx_vision=2, n_ctx_text=2, depth_vision=2, depth_text=2, bias_vision=(1,), bias_text=(1,))
    model = prompted_model(tiny_clip, config)
    g = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, tiny_clip.image_size, tiny_clip.image_size, generator=g)
    train_images = torch.randn(3, 3, tiny_clip.image_size, tiny_clip.image_size, generator=g)
    constant = prompt_term_means(model, [train_images[:2], train_images[2:]], CLASSES)
    return model, images, train_images, constant


@pytest.mark.parametrize("arm", list(ARMS))
@pytest.mark.parametrize("branch", ["image", "text", "both"])
def test_arms_equal_a_naive_per_token_loop(naive_case, arm, branch):
    model, images, train_images, constant = naive_case
    got = intervened_logits(model, images, CLASSES, arm=arm, branch=branch, constant=constant)
    want = naive_logits(model, images, arm, branch, train_images)
    assert torch.allclose(got.double(), want, atol=2e-4), (got - want).abs().max()


def test_the_corners_are_the_model_and_zero_shot_clip(naive_case):
    """(model, model) is the prompted model; (clip, clip) in both towers is zero-shot CLIP with the template
    words at the prompts' places ("a photo of a {}."), its biases dropped: within float rounding."""
    model, images, _, constant = naive_case
    texts = model.prompt_texts(CLASSES)
    assert texts[0] == "a photo of a cat."
    full = model(images, texts)
    clip = model.zero_shot()
    zero_shot = clip(images, clip.prompt_texts(CLASSES, "a photo of a {}."))
    assert (full - zero_shot).abs().max() > 1e-2
    for branch in ("image", "text", "both"):
        got = intervened_logits(model, images, CLASSES, arm="full", branch=branch)
        assert torch.allclose(got, full, atol=1e-5), branch
    got = intervened_logits(model, images, CLASSES, arm="clip", branch="both", constant=constant)
    assert torch.allclose(got, zero_shot, atol=1e-5), (got - zero_shot).abs().max()


def test_prompt_term_means_equal_the_naive_means(naive_case):
    model, _, train_images, constant = naive_case
    heads = model.clip.visual.transformer.resblocks[0].attn.num_heads
    image = image_means(model, train_images)
    texts = model.prompt_texts(CLASSES)
    text = text_means(model, texts)
    eos_positions = [naive_text(model, t)[2] for t in texts]
    for b in range(3):
        got = constant["image"].per_position[b].view(-1, heads, constant["image"].per_position[b].shape[-1] // heads)
        for (i, h), t in image[b].items():
            assert torch.allclose(got[i, h].double(), t, atol=1e-5)
        got_text, got_eos = constant["text"].per_position[b], constant["text"].at_eos[b]
        dh = got_text.shape[-1] // heads
        for terms, eos in zip(text, eos_positions):
            for (i, h), t in terms[b].items():
                got = got_eos if i == eos else got_text[i]
                assert torch.allclose(got[h * dh:(h + 1) * dh].double(), t, atol=1e-5)


def test_every_arm_differs_from_the_others_when_prompts_are_not_zero(naive_case):
    model, images, _, constant = naive_case
    logits = {arm: intervened_logits(model, images, CLASSES, arm=arm, branch="both", constant=constant) for arm in ARMS}
    for a in ARMS:
        for b in ARMS:
            if a < b:
                assert (logits[a] - logits[b]).abs().max() > 1e-3, (a, b)


def test_attention_bias_tuning_acts_only_through_the_first_way(tiny_clip, images):
    """A model that learns only a bias on the attention scores adds no token and no vector: its gain must pass
    through r alone, so re-weighting is the model and the prompt term is CLIP, exactly (the known answer)."""
    model = prompted_model(tiny_clip, mp.PromptConfig.attention_bias(range(3)))
    full = model(images, model.prompt_texts(CLASSES))
    clip = model.zero_shot()
    zero_shot = clip(images, clip.prompt_texts(CLASSES))
    assert (full - zero_shot).abs().max() > 1e-2
    constant = prompt_term_means(model, [images], CLASSES)
    for arm, want in (("reweighting", full), ("full", full), ("prompt-term", zero_shot), ("clip", zero_shot),
                      ("constant-term", zero_shot), ("reweighting-constant-term", full)):
        got = intervened_logits(model, images, CLASSES, arm=arm, branch="both", constant=constant)
        assert torch.allclose(got, want, atol=1e-5), arm


def test_attention_bias_forward_equals_the_naive_loop(tiny_clip, images):
    model = prompted_model(tiny_clip, mp.PromptConfig.attention_bias([0, 2]))
    got = model.encode_image(images[:1])[0]
    want = naive_image(model, images[0])[0]
    assert torch.allclose(got.double(), want, atol=1e-4)
    text = model.prompt_texts(CLASSES)[1]
    got = model.encode_text([text])[0]
    assert torch.allclose(got.double(), naive_text(model, text)[0], atol=1e-4)


def test_bias_tuning_puts_its_biases_in_the_second_way(tiny_clip, images):
    """Bias tuning: no extra token, so the prompt-term arm is CLIP's attention plus the learned biases and the
    re-weighting arm is the model's attention without them (neither is the model nor CLIP by construction)."""
    model = prompted_model(tiny_clip, mp.PromptConfig.bias(range(3)))
    clip = model.zero_shot()
    full = model(images, model.prompt_texts(CLASSES))
    zero_shot = clip(images, clip.prompt_texts(CLASSES))
    constant = prompt_term_means(model, [images], CLASSES)
    arms = {arm: intervened_logits(model, images, CLASSES, arm=arm, branch="both", constant=constant) for arm in ARMS}
    assert torch.allclose(arms["clip"], zero_shot, atol=1e-5) and torch.allclose(arms["full"], full, atol=1e-5)
    assert torch.allclose(arms["constant-term"], arms["prompt-term"], atol=1e-5)  # its "term" is zero: nothing to fix
    for arm in ("reweighting", "prompt-term"):
        assert (arms[arm] - full).abs().max() > 1e-3 and (arms[arm] - zero_shot).abs().max() > 1e-3, arm


@pytest.mark.parametrize("config", [mp.PromptConfig.prompts(2, 3), mp.PromptConfig.bias(range(3)),
                                    mp.PromptConfig(n_ctx_vision=2, depth_vision=3, bias_text=(0, 2))])
def test_arm_correct_agrees_with_the_logits(tiny_clip, images, config):
    model = prompted_model(tiny_clip, config, scale=1.0)
    constant = prompt_term_means(model, [images], CLASSES)
    labels = torch.tensor([0, 1, 2])
    correct = arm_correct(model, [(images[:2], labels[:2]), (images[2:], labels[2:])], CLASSES, constant)
    assert len(correct) == 3 * len(ARMS)
    for (branch, arm), hits in correct.items():
        want = intervened_logits(model, images, CLASSES, arm=arm, branch=branch, constant=constant).argmax(-1) == labels
        assert torch.equal(hits, want), (branch, arm)


def test_bad_input_is_named_before_any_forward(tiny_clip, images):
    model = prompted_model(tiny_clip, mp.PromptConfig.prompts(2, 3))
    with pytest.raises(ValueError, match="branch='vision'"):
        intervened_logits(model, images, CLASSES, arm="full", branch="vision")
    with pytest.raises(ValueError, match="arm='bias'"):
        intervened_logits(model, images, CLASSES, arm="bias", branch="both")
    with pytest.raises(ValueError, match="prompt_term_means"):
        intervened_logits(model, images, CLASSES, arm="constant-term", branch="image")
    with pytest.raises(ValueError, match="non-empty batch"):
        intervened_logits(model, images[:0], CLASSES, arm="full", branch="both")
    with pytest.raises(ValueError, match=r"\[B, 3, 32, 32\]|\[B, 3, "):
        intervened_logits(model, images[:, :, :8, :8], CLASSES, arm="full", branch="both")
    with pytest.raises(ValueError, match="class_names"):
        intervened_logits(model, images, [], arm="full", branch="both")
    with pytest.raises(ValueError, match="gave no images"):
        prompt_term_means(model, iter([]), CLASSES)
    with pytest.raises(ValueError, match="image batch 2"):
        prompt_term_means(model, [images, images[:0]], CLASSES)
    with pytest.raises(ValueError, match="batches gave no images"):
        arm_correct(model, [], CLASSES, None, arms=["full"])
    with pytest.raises(ValueError, match="image batch 1"):
        arm_correct(model, [images], CLASSES, None, arms=["full"])  # the tensor where (images, labels) batches go


def test_fixed_terms_of_another_model_or_other_classes_are_refused(tiny_clip, images):
    model = prompted_model(tiny_clip, mp.PromptConfig.prompts(2, 3))
    other = prompted_model(tiny_clip, mp.PromptConfig.prompts(3, 3))
    with pytest.raises(ValueError, match="other class prompts"):
        intervened_logits(model, images, CLASSES, arm="constant-term", branch="both",
                          constant=prompt_term_means(model, [images], CLASSES[:2]))
    with pytest.raises(ValueError, match="positions"):
        intervened_logits(model, images, CLASSES, arm="constant-term", branch="image",
                          constant=prompt_term_means(other, [images], CLASSES))
    # a tower without prompts gets zero terms (no silent fallback to another arm)
    vision_free = prompted_model(tiny_clip, mp.PromptConfig.text_only(2))
    terms = prompt_term_means(vision_free, [images], CLASSES)
    assert all(not t.any() for t in terms["image"].per_position)


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


@pytest.mark.parametrize("config", [mp.PromptConfig.bias(range(3)), mp.PromptConfig.attention_bias(range(3)),
                                    mp.PromptConfig.text_only(2), mp.PromptConfig.vision_only(2, 3)],
                         ids=["bias", "attention-bias", "text-only", "vision-only"])
def test_arms_run_once_per_distinct_forward_and_equal_their_own_replay(tiny_clip, images, config):
    """`arm_correct` runs arms whose forwards are equal by construction once (`_Recorded.sources`); each such arm's
    own replay (its sources as ARMS names them) gives the same features."""
    from mmprompts.analysis.interventions import _image_parts, _text_parts

    model = prompted_model(tiny_clip, config)
    constant = prompt_term_means(model, [images], CLASSES)
    tokens = model.tokenize(model.prompt_texts(CLASSES))
    reference = model.zero_shot()
    towers = {"image": (_image_parts(model, reference, images, constant["image"]), lambda e: model.encode_image(images, intervention=e)),
              "text": (_text_parts(model, reference, tokens, constant["text"]), lambda e: model.encode_tokens(tokens, intervention=e))}
    for tower, (parts, encode) in towers.items():
        for arm in ARMS:
            own, shared = encode(parts.intervention(ARMS[arm])), encode(parts.intervention(parts.sources(arm)))
            assert torch.allclose(own, shared, atol=1e-5), (tower, arm)


def test_clip_image_parts_recorded_once_give_every_model_its_own_results(tiny_clip, images):
    """Page 2 records zero-shot CLIP's image-tower parts once per dataset and replays them for each of its runs:
    every model (other prompts, another token layout, no image prompts) gets exactly what it gets alone."""
    from mmprompts.analysis.interventions import _evaluate

    labels = torch.tensor([0, 1, 2])
    batches = [(images[:2], labels[:2]), (images[2:], labels[2:])]
    shared: list = []
    for seed, config in enumerate([mp.PromptConfig.prompts(2, 3), mp.PromptConfig.prompts(1, 2),
                                   mp.PromptConfig.bias(range(3)), mp.PromptConfig.attention_bias(range(3))]):
        model = prompted_model(tiny_clip, config, scale=1.0, seed=seed)
        constant = prompt_term_means(model, [images], CLASSES)
        alone = arm_correct(model, batches, CLASSES, constant)
        replayed = arm_correct(model, batches, CLASSES, constant, clip_image_parts=shared)
        assert len(shared) == len(batches)  # filled by the first model, read by the others
        assert alone.keys() == replayed.keys()
        assert all(torch.equal(alone[key], replayed[key]) for key in alone), config
        # and the logits behind them, bit for bit (3 images' hits alone could agree by chance)
        logits = [_evaluate(model, batches, CLASSES, constant, "a photo of a {}.", list(ARMS), ["image", "both"],
                            keep_logits=True, clip_image_parts=parts) for parts in (None, shared)]
        assert all(torch.equal(logits[0][key], logits[1][key]) for key in logits[0]), config
    # parts of other batches are refused, not misapplied
    with pytest.raises(ValueError, match="clip_image_parts holds no parts of image batch 1"):
        arm_correct(model, [(images, labels)], CLASSES, constant, clip_image_parts=shared)

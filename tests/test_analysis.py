"""Attention statistics, similarity maps and the attention decomposition, against known answers."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import mmprompts as mp
from mmprompts.analysis import (attention_distance, attention_entropy, attention_scope, cls_attention_maps,
                                decompose_attention, group_attention, prompt_patch_similarity, rotate_images,
                                without_prompts)


def opposite_corner_attention(cls_mass: float) -> torch.Tensor:
    """[cls] + 2×2 patches; every patch sends (1 - cls_mass) to the diagonally opposite patch."""
    attn = torch.zeros(1, 1, 5, 5)
    attn[0, 0, 0, 0] = 1
    for query, key in ((1, 4), (2, 3), (3, 2), (4, 1)):
        attn[0, 0, query, key] = 1 - cls_mass
        attn[0, 0, query, 0] = cls_mass
    return attn


def test_attention_distance_known_answer():
    diagonal = 10 * math.sqrt(2)
    assert attention_distance(opposite_corner_attention(0.0), (2, 2), 10).item() == pytest.approx(diagonal)
    # mass on [cls] counts as distance 0 unless rows are renormalised over the patches
    assert attention_distance(opposite_corner_attention(0.5), (2, 2), 10).item() == pytest.approx(diagonal / 2)
    assert attention_distance(opposite_corner_attention(0.5), (2, 2), 10, renormalize=True).item() == pytest.approx(diagonal)


def test_attention_entropy_uniform_and_one_hot():
    uniform = torch.full((2, 3, 7, 7), 1 / 7)
    assert torch.allclose(attention_entropy(uniform), torch.full((3,), math.log(7)))
    one_hot = torch.eye(7).expand(2, 3, 7, 7)
    assert attention_entropy(one_hot).abs().max() < 1e-9
    assert torch.allclose(attention_entropy(uniform, cls_only=True), torch.full((3,), math.log(7)))


def test_without_prompts_renormalises():
    attn = torch.softmax(torch.randn(2, 3, 6, 6), -1)
    kept = without_prompts(attn, 2)
    assert kept.shape == (2, 3, 4, 4) and torch.allclose(kept.sum(-1), torch.ones(()))
    assert torch.allclose(kept, attn[..., :4, :4] / attn[..., :4, :4].sum(-1, keepdim=True))


def test_group_attention_sums_the_query_row():
    attn = torch.softmax(torch.randn(2, 4, 5, 5), -1)
    labels = [["sos", "prompt", "category", ".", "eos"], ["sos", "category", "category", "eos"]]
    rows = torch.tensor([4, 3])
    result = group_attention([attn], rows, labels, ["sos", "prompt", "category", "."])
    expected_category = (attn[0, :, 4, 2] + attn[1, :, 3, 1] + attn[1, :, 3, 2]) / 2
    assert result.shape == (1, 4, 4)
    assert torch.allclose(result[0, :, 2], expected_category)
    assert torch.allclose(result[0, :, 1], attn[0, :, 4, 1] / 2)


def rotation_equivariant(clip: mp.LoadedCLIP) -> mp.LoadedCLIP:
    """No positional embedding and a patch embedding that ignores where a pixel sits in its
    patch: then rotating the image permutes the tokens, and nothing else."""
    model = copy.deepcopy(clip.model)
    with torch.no_grad():
        model.visual.positional_embedding.zero_()
        weight = model.visual.conv1.weight
        weight.copy_(weight.mean(dim=(-2, -1), keepdim=True).expand_as(weight))
    return mp.LoadedCLIP(model, clip.tokenizer, clip.name, clip.identity + ":equivariant", clip.image_size,
                         clip.mean, clip.std)


def test_rotating_the_input_rotates_the_maps(tiny_clip, images):
    torch.manual_seed(0)
    model = mp.PromptedCLIP(rotation_equivariant(tiny_clip), mp.PromptConfig.prompts(2, 2))
    similarity = prompt_patch_similarity(model, images)
    attention = cls_attention_maps(model, images)
    assert similarity.shape == (3, 3, 2, 32, 32) and attention.shape == (3, 3, 32, 32)
    assert similarity.min() >= 0 and similarity.max() <= 1
    for degrees in (90, 180, 270):
        rotated = rotate_images(images, degrees)
        assert torch.allclose(prompt_patch_similarity(model, rotated), rotate_images(similarity, degrees), atol=1e-4)
        assert torch.allclose(cls_attention_maps(model, rotated), rotate_images(attention, degrees), atol=1e-4)
    with pytest.raises(ValueError, match="degrees=45"):
        rotate_images(images, 45)


def test_similarity_is_one_minus_normalised_distance(tiny_clip, images):
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_vision=1, depth_vision=1))
    trace = mp.Trace(keep_attention=False, keep_hidden=True)
    model.encode_image(images, trace=trace)
    patches = trace.hidden[0][:, 1:17]
    distance = (patches - trace.hidden[0][:, -1:]).norm(dim=-1).reshape(3, 1, 4, 4)
    up = torch.nn.functional.interpolate(distance, size=(32, 32), mode="bilinear", align_corners=False)
    up = (up - up.amin((-2, -1), keepdim=True)) / (up.amax((-2, -1), keepdim=True) - up.amin((-2, -1), keepdim=True))
    assert torch.allclose(prompt_patch_similarity(model, images)[0], 1 - up, atol=1e-5)


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_attention_decomposition_identities(tiny_clip, images, layer):
    torch.manual_seed(1)
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(3, 2))
    parts = decompose_attention(model, images, layer)
    assert parts.scaling_error <= 1e-5 and parts.sum_error <= 1e-5
    assert parts.prompt_part.abs().max() > 0 and (parts.ratio < 1).all()


def test_attention_scope_variants(tiny_clip, images):
    zero_shot = attention_scope(mp.PromptedCLIP(tiny_clip), [images], progress=False)
    for key in ("distance", "entropy", "cls_entropy"):
        assert torch.allclose(zero_shot["W prompt"][key], zero_shot["W/O prompt"][key])
    prompted = attention_scope(mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(4, 3)), [images[:2], images[2:]],
                               progress=False)
    heads = tiny_clip.model.visual.transformer.resblocks[0].attn.num_heads
    assert prompted["W prompt"]["distance"].shape == (3, heads)
    # removing prompt keys and renormalising can only move mass onto patches
    assert (prompted["W/O prompt"]["distance"] >= prompted["W prompt"]["distance"] - 1e-6).all()
    max_distance = 8 * math.sqrt(2 * 3**2)
    assert (prompted["W prompt"]["distance_renormalized"] <= max_distance).all()


def test_token_group_attention(tiny_clip, images):
    from mmprompts.analysis import TEXT_GROUPS, VISION_GROUPS, token_group_attention

    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2))
    result = token_group_attention(model, [images[:1], images[1:]], ["cat", "sea lion"], progress=False)
    heads = tiny_clip.model.visual.transformer.resblocks[0].attn.num_heads
    assert result["vision"].shape == (3, heads, len(VISION_GROUPS)) and result["text"].shape[-1] == len(TEXT_GROUPS)
    # [cls] spreads all its attention over cls, patches and prompts: the groups sum to 1
    assert torch.allclose(result["vision"].sum(-1), torch.ones(()), atol=1e-5)
    trace = mp.Trace()
    model.encode_image(images, trace=trace)
    assert torch.allclose(result["vision"][1, :, 2], trace.attentions[1][:, :, 0, -2:].sum(-1).mean(0), atol=1e-6)
    # EOS attention over sos..'.' plus itself is 1, so the groups sum to 1 minus the self-attention
    text_trace = mp.Trace()
    model.encode_text(model.prompt_texts(["cat", "sea lion"]), trace=text_trace)
    eos = text_trace.eos
    self_attention = torch.stack([a[torch.arange(2), :, eos, eos].mean(0) for a in text_trace.attentions])
    assert torch.allclose(result["text"].sum(-1) + self_attention, torch.ones(()), atol=1e-5)


def test_attention_shift_is_zero_in_block_one_and_against_itself(tiny_clip, images):
    from mmprompts.analysis import attention_shift

    clip = mp.PromptedCLIP(tiny_clip)
    assert attention_shift(clip, clip, [images], progress=False).abs().max() < 1e-6
    torch.manual_seed(0)
    prompted = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(4, 3))
    for p in prompted.vision_prompts:
        p.data.normal_(0, 1.0)
    per_image = attention_shift(prompted, clip, [images[:2], images[2:]], progress=False)
    assert per_image.shape == (3, 3)  # images, blocks
    shift = per_image.mean(0)
    # block 1 reads CLIP's tokens: prompts only rescale each query's attention over them
    assert shift[0] < 1e-5 and shift[1:].max() > 1e-3
    # an independent recomputation of block 2
    mine, theirs = mp.Trace(), mp.Trace()
    prompted.encode_image(images, trace=mine)
    clip.encode_image(images, trace=theirs)
    a = mine.attentions[1][..., :-4, :-4]
    a = a / a.sum(-1, keepdim=True)
    expected = 0.5 * (a - theirs.attentions[1]).abs().sum(-1).mean()
    assert shift[1].item() == pytest.approx(expected.item(), rel=1e-4)


def test_normalised_similarity_scale():
    from mmprompts.analysis import normalised_similarity

    reference = torch.rand(5, 6, 6, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(normalised_similarity(reference * 3 + 1, reference), torch.ones(5), atol=1e-5)
    # each map is another image's reference map: on average no more alike than unrelated images
    assert normalised_similarity(reference.roll(1, dims=0), reference).mean().abs() < 1e-5
    with pytest.raises(ValueError, match="at least two"):
        normalised_similarity(reference[:1], reference[:1])


def test_scope_change_in_units_of_the_head_spread():
    from mmprompts.analysis import scope_change

    reference = torch.tensor([[1.0, 3.0], [2.0, 6.0]])  # head std per block: 1.414, 2.828 -> mean 2.121
    variant = reference + torch.tensor([[1.0, -1.0], [0.0, 2.0]])  # mean |diff| = 1
    assert scope_change(variant, reference) == pytest.approx(1.0 / (1.5 * math.sqrt(2)))


def test_rotation_agreement_is_one_without_rotation_and_a_correlation(tiny_clip, images):
    from mmprompts.analysis import rotation_agreement

    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 3))
    assert rotation_agreement(model, images, (0,)).item() == pytest.approx(1.0, abs=1e-5)
    agreement = rotation_agreement(model, images)
    assert agreement.shape == (3,) and (agreement.abs() <= 1 + 1e-6).all()


def test_similarity_attention_is_the_correlation_of_distance_and_attention(tiny_clip, images):
    from mmprompts.analysis import similarity_attention

    torch.manual_seed(2)
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 3))
    got = similarity_attention(model, images)
    trace = mp.Trace(keep_hidden=True)
    model.encode_image(images, trace=trace)
    for b in range(len(images)):  # an independent loop over blocks and (token, prompt) pairs
        per_block = []
        for hidden, attention in zip(trace.hidden, trace.attentions):
            pairs = [(-(hidden[b, i] - hidden[b, -2 + c]).norm().item(), attention[b, :, i, -2 + c].mean().item())
                     for i in range(hidden.shape[1] - 2) for c in range(2)]
            per_block.append(np.corrcoef(np.array(pairs).T)[0, 1])
        assert got[b].item() == pytest.approx(float(np.mean(per_block)), abs=1e-5)


def test_eos_attention_on_sos_reads_the_attention_to_position_0(tiny_clip):
    # the premise statistic of Sec. 3.3.1, checked against the raw attention: EOS's row, SOS's column (position 0)
    from mmprompts.analysis import eos_attention_on_sos

    model = mp.PromptedCLIP(tiny_clip)
    shares = eos_attention_on_sos(model, ["cat", "sea lion"])
    trace = mp.Trace()
    model.encode_text(model.prompt_texts(["cat", "sea lion"]), trace=trace)
    expected = torch.stack([a[torch.arange(2), :, trace.eos, 0].mean(0) for a in trace.attentions])
    assert torch.allclose(torch.tensor(shares), expected, atol=1e-6)

"""Relevancy maps against a per-pair loop; token-group labels on tokenised examples."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import mmprompts as mp
from mmprompts.analysis import relevancy_maps, text_token_groups, vision_token_groups


def per_pair_relevancy(model, image, text):
    """Chefer's per-pair procedure, one sample and one backward at a time, loops written out."""
    vision, txt = mp.Trace(), mp.Trace()
    with torch.enable_grad():
        f = model.encode_image(image[None], trace=vision)
        g = model.encode_text([text], trace=txt)
        logit = model.logit_scale * F.cosine_similarity(f, g).sum()
        grads = torch.autograd.grad(logit, vision.attentions + txt.attentions)
    rows = []
    for attns, gs in ((vision.attentions, grads[: len(vision.attentions)]), (txt.attentions, grads[len(vision.attentions):])):
        n = attns[0].shape[-1]
        relevance = torch.eye(n)
        for attn, grad in zip(attns, gs):
            cam = torch.zeros(n, n)
            for head in range(attn.shape[1]):
                cam += torch.clamp(grad[0, head] * attn[0, head], min=0) / attn.shape[1]
            relevance = relevance + cam @ relevance
        rows.append(relevance)
    eos = int(txt.eos[0])
    return rows[0][0, 1:], rows[1][eos, :eos]


@pytest.mark.parametrize("config", [mp.PromptConfig.prompts(2, 3), mp.PromptConfig()], ids=["prompts", "zero-shot"])
def test_batched_relevancy_equals_per_pair_loop(tiny_clip, images, config):
    torch.manual_seed(0)
    model = mp.PromptedCLIP(tiny_clip, config)
    texts = model.prompt_texts(["cat", "golden retriever", "cat"])
    batched = relevancy_maps(model, images, texts)
    assert batched.image.shape == (3, 16 + config.n_ctx_vision)
    for i in range(3):
        image_row, text_row = per_pair_relevancy(model, images[i], texts[i])
        eos = int(batched.eos[i])
        assert (batched.image[i] - image_row).abs().max() <= 1e-5
        assert (batched.text[i, :eos] - text_row).abs().max() <= 1e-5
        assert batched.text[i, eos:].abs().max() == 0
    # the relevance of the SOS token is kept (the paper's groups need it)
    assert (batched.text[:, 0] > 0).all()


def test_start_layer(tiny_clip, images):
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(1, 2))
    texts = model.prompt_texts(["a", "b", "c"])
    last = relevancy_maps(model, images, texts, start_layer=-1)
    every = relevancy_maps(model, images, texts)
    assert not torch.allclose(last.image, every.image)
    with pytest.raises(ValueError, match="start_layer=5 leaves no block"):
        relevancy_maps(model, images, texts, start_layer=5)
    with pytest.raises(ValueError, match="one text per image"):
        relevancy_maps(model, images, texts[:2])


def test_text_token_groups(tiny_clip):
    prompted = mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_text=2, depth_text=1))
    assert text_token_groups(prompted, "golden_retriever") == [
        "sos", "prompt", "prompt", "template", "template", "category", "category", ".", "eos"]
    zero_shot = mp.PromptedCLIP(tiny_clip)
    assert text_token_groups(zero_shot, "beagle", "a photo of a {}, a type of pet.") == [
        "sos", "template", "template", "template", "template", "category",
        "template", "template", "template", "template", "template", ".", "eos"]
    assert text_token_groups(zero_shot, "banded", "{} texture.") == ["sos", "category", "template", ".", "eos"]


def test_vision_token_groups(tiny_clip):
    labels = vision_token_groups(mp.PromptedCLIP(tiny_clip, mp.PromptConfig(n_ctx_vision=3, depth_vision=1)))
    assert labels == ["cls"] + ["patch"] * 16 + ["vision_prompt"] * 3


def test_relevancy_statistics_aggregate_normalised_rows(tiny_clip, images):
    from mmprompts.analysis import relevancy_statistics

    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2))
    classnames = ["cat", "golden retriever"]
    labels = torch.tensor([0, 1, 1])
    stats = relevancy_statistics(model, [(images[:2], labels[:2]), (images[2:], labels[2:])], classnames,
                                 progress=False)
    direct = relevancy_maps(model, images, [model.prompt_texts(classnames)[i] for i in labels])
    expected_image = (direct.image / direct.image.sum(-1, keepdim=True)).mean(0)
    assert torch.allclose(stats["image"], expected_image, atol=1e-6)
    assert stats["image_labels"] == ["patch"] * 16 + ["vision_prompt"] * 2
    assert sum(stats["text_groups"].values()) == pytest.approx(1.0, abs=1e-5)
    text = direct.text / direct.text.sum(-1, keepdim=True)
    assert stats["text_groups"]["prompt"] == pytest.approx(text[:, 1:3].sum(-1).mean().item(), abs=1e-6)


def test_relevancy_statistics_keep_each_sample(tiny_clip, images):
    from mmprompts.analysis import relevancy_statistics

    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2))
    labels = torch.tensor([0, 1, 1])
    stats = relevancy_statistics(model, [(images, labels)], ["cat", "dog"], progress=False)
    assert stats["image_samples"].shape == (3, 18)
    assert torch.allclose(stats["image_samples"].sum(-1), torch.ones(3), atol=1e-5)
    means = stats["text_group_samples"].mean(0)
    assert means.tolist() == pytest.approx(list(stats["text_groups"].values()), abs=1e-6)


def naive_reset_relevancy(attns, grads, replaced):
    """The accumulation with the rows of re-inserted tokens set to identity rows first, loops written out."""
    n = attns[0].shape[-1]
    relevance = torch.eye(n)
    for layer, (attn, grad) in enumerate(zip(attns, grads)):
        for position in replaced.get(layer, []):
            relevance[position] = torch.eye(n)[position]
        cam = sum(torch.clamp(grad[0, h] * attn[0, h], min=0) for h in range(attn.shape[1])) / attn.shape[1]
        relevance = relevance + cam @ relevance
    return relevance


@pytest.mark.parametrize("depth", [2, 3])
def test_resetting_the_rows_of_replaced_prompts_changes_nothing(tiny_clip, images, depth):
    """Rows of deep prompts are identity rows when the prompts are replaced (their outputs are
    dropped, so their attention gets no gradient): an accumulation that resets them agrees."""
    model = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, depth))
    for p in model.vision_prompts:
        p.data.normal_(0, 1.0, generator=torch.Generator().manual_seed(3))
    text = model.prompt_texts(["cat"])
    vision = mp.Trace()
    with torch.enable_grad():
        f = model.encode_image(images[:1], trace=vision)
        g = model.encode_text(text)
        grads = torch.autograd.grad((model.logit_scale * F.cosine_similarity(f, g)).sum(), vision.attentions)
    n = vision.attentions[0].shape[-1]
    replaced = {layer: [n - 2, n - 1] for layer in range(1, depth)}
    expected = naive_reset_relevancy(vision.attentions, grads, replaced)
    assert torch.allclose(relevancy_maps(model, images[:1], text).image[0], expected[0, 1:], atol=1e-5)
    # the check can fail: a reset of rows that did accumulate (the last prompted block's outputs
    # are carried forward when depth < blocks) does change the result
    if depth < 3:
        carried = naive_reset_relevancy(vision.attentions, grads, {2: [n - 2, n - 1]})
        assert not torch.allclose(carried, expected, atol=1e-6)


def test_text_tokens_name_sos_prompts_and_eos(tiny_clip):
    from mmprompts.analysis import text_tokens

    assert text_tokens(mp.PromptedCLIP(tiny_clip), "golden retriever") == ["SOS", "a", "photo", "of", "a", "golden",
                                                                           "retriever", ".", "EOS"]
    assert text_tokens(mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2)), "cat") == ["SOS", "P1", "P2", "of", "a",
                                                                                             "cat", ".", "EOS"]

"""Model loading: names, tags, local files, TorchScript archives, offline behaviour, bad input."""
from __future__ import annotations

import os
import socket
import time

import open_clip
import pytest
import torch

import mmprompts as mp
from mmprompts.models import resolve_model_name


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_loaded_model_is_frozen_and_in_eval(tiny_clip):
    assert not tiny_clip.model.training
    assert not any(p.requires_grad for p in tiny_clip.model.parameters())
    assert tiny_clip.image_size == 32 and tiny_clip.context_length == 32


def test_openai_weights_run_with_quickgelu():
    assert resolve_model_name("ViT-B-16", "openai") == "ViT-B-16-quickgelu"
    assert resolve_model_name("ViT-B-16-quickgelu", "openai") == "ViT-B-16-quickgelu"
    assert resolve_model_name("ViT-B-16", "laion2b_s34b_b88k") == "ViT-B-16"  # trained with GELU
    assert resolve_model_name("ViT-B-16", None) == "ViT-B-16"


def test_random_init_is_seeded(tiny_name):
    a, b, c = (mp.load_clip(tiny_name, init_seed=s) for s in (0, 0, 1))
    assert same_weights(a.model, b.model) and not same_weights(a.model, c.model)
    assert a.identity == f"{tiny_name}:random:0"


@pytest.mark.parametrize("wrap", ["plain", "dassl_style"])
def test_local_state_dict_checkpoint(tiny_clip, tiny_name, tmp_path, wrap):
    state = tiny_clip.model.state_dict()
    if wrap == "dassl_style":
        state = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    loaded = mp.load_clip(tiny_name, checkpoint=path, init_seed=7)
    assert same_weights(loaded.model, tiny_clip.model)
    assert loaded.identity.startswith(f"{tiny_name}:file:")
    assert not any(p.requires_grad for p in loaded.model.parameters())


def test_openai_torchscript_archive(tiny_clip, tiny_name, tmp_path):
    """OpenAI ships TorchScript archives that also carry hyper-parameters as tensors."""
    clip = mp.load_clip(tiny_name, init_seed=3).model
    clip.register_buffer("input_resolution", torch.tensor(32))
    image, text = torch.randn(1, 3, 32, 32), tiny_clip.tokenizer(["a cat"])
    scripted = torch.jit.trace(clip, (image, text), strict=False, check_trace=False)
    path = tmp_path / "ViT-tiny.pt"
    scripted.save(str(path))
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)  # why the loader must special-case it
    loaded = mp.load_clip(tiny_name, checkpoint=path)
    reference = mp.load_clip(tiny_name, init_seed=3).model
    assert same_weights(loaded.model, reference)


def test_cached_hub_weights_load_offline(tiny_clip, tiny_name, tmp_path, monkeypatch):
    """A file already in the hub cache loads with the network off, through the tag."""
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, tiny_name, {"testhub": {"hf_hub": "mmprompts/tiny-test/"}})
    snapshot = tmp_path / "models--mmprompts--tiny-test" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (tmp_path / "models--mmprompts--tiny-test" / "refs").mkdir()
    (tmp_path / "models--mmprompts--tiny-test" / "refs" / "main").write_text("abc123")
    torch.save(tiny_clip.model.state_dict(), snapshot / "open_clip_pytorch_model.bin")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = mp.load_clip(tiny_name, "testhub", cache_dir=tmp_path, init_seed=9)
    assert same_weights(loaded.model, tiny_clip.model)
    assert loaded.identity == f"{tiny_name}:testhub"


def test_offline_hub_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(mp.WeightsUnavailableError) as err:
        mp.load_clip("ViT-B-16", "openai", cache_dir=tmp_path)
    assert time.monotonic() - start < 30  # building the model dominates; no network wait
    message = str(err.value)
    assert "checkpoint=" in message and "--checkpoint" in message and str(tmp_path) in message
    assert "ViT-B-16-quickgelu" in message


def test_unreachable_hub_fails_fast_without_offline_flag(tmp_path, monkeypatch):
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        pytest.skip("the hub is reachable here; this test is about machines where it is not")
    except OSError:
        pass
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.monotonic()
    with pytest.raises(mp.WeightsUnavailableError, match="cannot be reached"):
        mp.load_clip("ViT-B-16-quickgelu", "openai", cache_dir=tmp_path)
    assert time.monotonic() - start < 30  # open_clip alone retries for about a minute


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r"unknown open_clip model 'ViT-B-61'.*ViT-B-16"):
        mp.load_clip("ViT-B-61")


def test_unknown_pretrained_tag():
    with pytest.raises(ValueError, match=r"unknown pretrained tag 'opneai' for 'ViT-B-16'.*available"):
        mp.load_clip("ViT-B-16", "opneai")


def test_non_vit_model_is_refused_before_looking_for_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # offline, no cache: the weights are not the problem to report
    with pytest.raises(ValueError, match=r"^'RN50-quickgelu' is not a ViT \(its image tower is a ModifiedResNet\): "
                                         r"this library prompts ViT towers only; use a ViT model"):
        mp.load_clip("RN50", "openai", cache_dir=tmp_path)


@pytest.mark.parametrize("text, message", [
    ('{"embed_dim": 32,', r"is not JSON \(Expecting"),
    ('{"embed_dim": 32}', r"is not an open_clip model config: it lacks \['vision_cfg', 'text_cfg'\]"),
])
def test_a_bad_model_config_file_is_named(tmp_path, text, message):
    path = tmp_path / "garbage.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"^model config file '{path}' {message}"):
        mp.load_clip(str(path))


def test_checkpoint_for_another_architecture(tiny_clip, tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(tiny_clip.model.state_dict(), path)
    with pytest.raises(ValueError, match=r"does not match the architecture \(.*wrong shape"):
        mp.load_clip("ViT-B-32-quickgelu", checkpoint=path)


def test_corrupted_checkpoint(tiny_name, tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"\x80\x04 this is not a checkpoint")
    with pytest.raises(ValueError, match=rf"^cannot read checkpoint: '{path}' is not a PyTorch checkpoint \(neither a "
                                         r"torch.save zip archive nor an old-format torch file\); give the OpenAI") as err:
        mp.load_clip(tiny_name, checkpoint=path)
    assert "\n" not in str(err.value)  # one line, not torch's weights_only essay


def test_a_checkpoint_that_would_run_code_is_not_read(tiny_name, tmp_path):
    class Crafted:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'marker'}",))

    torch.save({"state_dict": Crafted()}, tmp_path / "crafted.pt")
    with pytest.raises(ValueError, match=r"it refers to posix.system, which runs commands; nothing of it was run"):
        mp.load_clip(tiny_name, checkpoint=tmp_path / "crafted.pt")
    assert not (tmp_path / "marker").exists()


def test_missing_checkpoint_and_double_source(tiny_name, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mp.load_clip(tiny_name, checkpoint=tmp_path / "nope.pt")
    with pytest.raises(ValueError, match=rf"checkpoint '{tmp_path}' is a folder; give the weights file in it"):
        mp.load_clip(tiny_name, checkpoint=tmp_path)
    with pytest.raises(ValueError, match="not both"):
        mp.load_clip("ViT-B-16", "openai", checkpoint=tmp_path / "nope.pt")

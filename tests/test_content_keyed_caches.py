"""The model cache and the text-embedding cache follow a checkpoint's content: a file
rewritten in place with the same size and time stamps gives the new model and embeddings."""
import hashlib
import os
from types import SimpleNamespace

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from mmseg_clipseg.clip import CLIPConfig, TextEmbedder, file_digest, load_clip

TINY = 'clipseg-test-tiny'
CLASSES = [('cat', ), ('dog', 'puppy')]
TEMPLATES = ['a photo of a {}.', 'a {}.']


def _state(seed: int) -> dict:
    model = load_clip(dict(model_name=TINY, pretrained=None, init_seed=seed))
    return {key: value.detach().clone().contiguous() for key, value in
            model.state_dict().items()}


def _rewrite_in_place(path, state: dict) -> None:
    """Overwrite the file's bytes (same inode, same size) and set its times back."""
    before = os.stat(path)
    scratch = path.with_name('scratch.safetensors')
    save_file(state, str(scratch))
    data = scratch.read_bytes()
    assert len(data) == before.st_size
    with open(path, 'r+b') as handle:
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)


def _embeddings(config: CLIPConfig) -> torch.Tensor:
    """As the head computes them: the loaded model's text tower, the disk cache keyed on
    the weights' identity."""
    embedder = TextEmbedder(load_clip(config), config.model_name)
    embeddings, _ = embedder.class_embeddings(CLASSES, TEMPLATES, config.weights_identity())
    return embeddings


def test_a_checkpoint_rewritten_in_place_gives_the_new_model_and_embeddings(tmp_path):
    path = tmp_path / 'weights.safetensors'
    first, second = _state(11), _state(12)
    save_file(first, str(path))
    config = CLIPConfig(model_name=TINY, pretrained=str(path))
    old_identity = config.weights_identity()
    old_model = load_clip(config)
    old_embeddings = _embeddings(config)  # also written to the disk cache

    _rewrite_in_place(path, second)
    new_model = load_clip(config)
    assert config.weights_identity() != old_identity
    for name, value in new_model.state_dict().items():
        assert torch.equal(value, second[name]), name
    new_embeddings = _embeddings(config)
    expected, _ = TextEmbedder(new_model, TINY).class_embeddings(CLASSES, TEMPLATES)
    torch.testing.assert_close(new_embeddings, expected, rtol=0, atol=0)
    assert not torch.allclose(new_embeddings, old_embeddings)
    assert not torch.equal(old_model.visual.proj, new_model.visual.proj)


def test_an_unchanged_file_is_hashed_and_read_once(tmp_path, monkeypatch):
    path = tmp_path / 'weights.safetensors'
    save_file(_state(13), str(path))
    # The file was written just now; count it as settled (see file_digest._SETTLED_NS).
    monkeypatch.setattr(file_digest, '_SETTLED_NS', 0)
    file_digest.forget_digests()
    hashed, built = [], []
    real_create_model = open_clip.create_model
    monkeypatch.setattr(file_digest, 'hashlib', SimpleNamespace(
        sha256=lambda: hashed.append(1) or hashlib.sha256()))
    monkeypatch.setattr(open_clip, 'create_model',
                        lambda *args, **kwargs: built.append(1) or
                        real_create_model(*args, **kwargs))
    config = CLIPConfig(model_name=TINY, pretrained=str(path))
    for _ in range(3):
        load_clip(config)
        config.weights_identity()
    assert (len(hashed), len(built)) == (1, 1)
    os.utime(path)  # a new state of the file (its status changed): hashed again, same content
    load_clip(config)
    assert (len(hashed), len(built)) == (2, 1)


@pytest.mark.parametrize('settled', [False, True])
def test_a_file_changed_just_now_is_not_trusted_by_its_status(tmp_path, monkeypatch, settled):
    """Within the file system's time-stamp granularity a rewrite may leave the status as it
    was; such a fresh file is hashed again on each request."""
    path = tmp_path / 'file.bin'
    path.write_bytes(b'one')
    if settled:
        monkeypatch.setattr(file_digest, '_SETTLED_NS', 0)
    first = file_digest.content_digest(str(path))
    status = os.stat(path)
    monkeypatch.setattr(file_digest, '_status', lambda _: (
        status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
        status.st_ctime_ns))  # a rewrite the status does not show
    path.write_bytes(b'two')
    assert (file_digest.content_digest(str(path)) == first) == settled

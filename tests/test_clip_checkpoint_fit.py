"""Checkpoints are loaded as open_clip's own ``create_model`` loads them (its conversions and
resizing, the file it picks in a model folder, a tag's settings), after a check of every
name and shape; the architecture is checked before any weights are read or downloaded.

Tiny models only; nothing here may download.
"""
import json
import logging
import os
import warnings

import huggingface_hub.constants
import open_clip
import pytest
import torch
from open_clip.model import CLIP
from safetensors.torch import save_file

from mmseg_clipseg.clip import clear_clip_cache, load_clip, loader
from mmseg_clipseg.utils.errors import UserInputError

TINY = 'clipseg-test-tiny'


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Fail loudly if anything asks open_clip to download weights; no cached model is
    shared with other tests."""
    def download_pretrained(pretrained_cfg, **kwargs):
        raise AssertionError(f'test tried to download {pretrained_cfg}')

    monkeypatch.setattr(open_clip, 'download_pretrained', download_pretrained)
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    monkeypatch.setattr(loader, '_PRISTINE', {})


def _tiny_clip(seed: int, image_size: int = 64, context_length: int = 77,
               text_width: int = 64) -> CLIP:
    """A CLIP of the tiny model's architecture, but for the given sizes."""
    torch.manual_seed(seed)
    return CLIP(embed_dim=32,
                vision_cfg=dict(image_size=image_size, layers=6, width=64, head_width=16,
                                patch_size=8),
                text_cfg=dict(context_length=context_length, vocab_size=49408,
                              width=text_width, heads=4, layers=2))


def _save(state, path):
    if str(path).endswith('.safetensors'):
        save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    else:
        torch.save(state, path)


def _assert_same_weights(model, expected):
    state, wanted = model.state_dict(), expected.state_dict()
    assert set(state) == set(wanted)
    for name, value in wanted.items():
        assert value.dtype == state[name].dtype and torch.equal(state[name], value), name


def _variant(name):
    """A checkpoint (the object saved) that open_clip's load_checkpoint changes before
    loading, or not."""
    if name == 'smaller-image-grid':  # positional embedding resized, 4x4 -> 8x8
        return _tiny_clip(1, image_size=32).state_dict()
    if name == 'shorter-text-context':  # text positional embedding resized, 64 -> 77
        return _tiny_clip(2, context_length=64).state_dict()
    state = _tiny_clip(3).state_dict()
    if name == 'one-element-logit-scale':  # reshaped to the model's scalar
        return {**state, 'logit_scale': state['logit_scale'].reshape(1)}
    if name == 'wrapped-with-module-prefix':
        return {'state_dict': {f'module.{key}': value for key, value in state.items()}}
    if name == 'fp16':
        return {key: value.half() for key, value in state.items()}
    return state


@pytest.mark.parametrize('name, suffix', [
    *[(name, suffix) for suffix in ('.pt', '.safetensors')
      for name in ('plain', 'smaller-image-grid', 'shorter-text-context',
                   'one-element-logit-scale', 'fp16')],
    ('wrapped-with-module-prefix', '.pt'),  # safetensors files hold one flat mapping
])
def test_checkpoint_is_loaded_as_open_clip_loads_it(tmp_path, name, suffix):
    path = tmp_path / f'{name}{suffix}'
    _save(_variant(name), path)
    expected = open_clip.create_model(TINY, pretrained=str(path))
    _assert_same_weights(load_clip(dict(model_name=TINY, pretrained=str(path))), expected)


def _model_folder(folder, files):
    """An open_clip model folder with the tiny model's config and ``files`` (names), each
    holding other weights."""
    folder.mkdir()
    (folder / 'open_clip_config.json').write_text(
        json.dumps({'model_cfg': open_clip.get_model_config(TINY)}))
    for seed, name in enumerate(files):
        _save(_tiny_clip(10 + seed).state_dict(), folder / name)
    return folder


@pytest.mark.parametrize('files', [
    ['a.bin', 'open_clip_pytorch_model.bin', 'model.safetensors'],
    ['b.pth', 'z.safetensors', 'a.bin'],
    ['b.pth', 'a.bin'],
], ids=['preferred-name', 'safetensors-first', 'first-by-name'])
def test_local_dir_reads_the_file_open_clip_picks(tmp_path, files):
    folder = _model_folder(tmp_path / 'folder', files)
    expected = open_clip.create_model(f'local-dir:{folder}')
    _assert_same_weights(load_clip(dict(model_name=f'local-dir:{folder}')), expected)


class _Payload:
    """Unpickling this calls os.mkdir(marker): code that must never run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_files_of_a_local_dir_that_are_not_its_weights_are_not_read(tmp_path):
    folder = _model_folder(tmp_path / 'folder', ['open_clip_model.safetensors'])
    marker = str(tmp_path / 'code_ran')
    torch.save({'visual.proj': torch.zeros(1), 'extra': _Payload(marker)},
               folder / 'notes.bin')
    expected = _tiny_clip(10)
    _assert_same_weights(load_clip(dict(model_name=f'local-dir:{folder}')), expected)
    assert not os.path.exists(marker)


def test_refused_pickled_objects_are_named(tmp_path):
    marker = str(tmp_path / 'code_ran')
    path = tmp_path / 'training_state.pt'
    torch.save({'state_dict': _tiny_clip(3).state_dict(), 'args': _Payload(marker)}, path)
    with pytest.raises(UserInputError, match='pickled Python objects') as info:
        load_clip(dict(model_name=TINY, pretrained=str(path)))
    assert f'({os.mkdir.__module__}.mkdir)' in str(info.value)
    assert not os.path.exists(marker)


def test_a_non_vit_model_is_refused_before_its_weights_are_read(tmp_path, monkeypatch):
    """A ResNet CLIP is refused for what it is, not for the checkpoint, and before a tag's
    weights are downloaded (the fixture fails any download)."""
    monkeypatch.setattr(loader, 'check_weights_reachable', lambda config: None)
    path = tmp_path / 'tiny.pt'
    _save(_tiny_clip(3).state_dict(), path)
    for pretrained in (str(path), 'openai'):
        with pytest.raises(UserInputError, match='ModifiedResNet image tower'):
            load_clip(dict(model_name='RN50', pretrained=pretrained))


def test_mismatch_is_named_by_comparing_names_and_shapes(tmp_path):
    """Another text width: open_clip's text positional-embedding resizing cannot take it;
    the message names the tensors that differ and their shapes."""
    path = tmp_path / 'narrow_text.pt'
    _save(_tiny_clip(3, text_width=32).state_dict(), path)
    with pytest.raises(UserInputError, match='does not fit') as info:
        load_clip(dict(model_name=TINY, pretrained=str(path)))
    message = str(info.value)
    assert 'size mismatch for positional_embedding: (77, 32) in the checkpoint, (77, 64) ' \
           'in the model' in message
    assert 'Error' not in message and '\n' not in message


def _serve_tag(monkeypatch, tmp_path):
    """ViT-B-16's tags give the tiny model, 'downloaded' from a local file."""
    real_create_model = open_clip.create_model
    monkeypatch.setattr(open_clip, 'create_model', lambda model_name, **kwargs:
                        real_create_model(TINY, **kwargs))
    monkeypatch.setattr(loader, 'check_weights_reachable', lambda config: None)
    path = tmp_path / 'downloaded.safetensors'
    _save(_tiny_clip(3).state_dict(), path)
    monkeypatch.setattr(open_clip, 'download_pretrained',
                        lambda pretrained_cfg, cache_dir=None: str(path))


@pytest.mark.parametrize('quick_gelu', [False, True])
def test_a_tag_brings_its_settings_as_in_open_clip(monkeypatch, tmp_path, quick_gelu):
    """The tag's preprocessing is recorded on the model, and a QuickGELU setting other than
    the tag's is warned about (OpenAI's weights need QuickGELU)."""
    _serve_tag(monkeypatch, tmp_path)
    tag = open_clip.get_pretrained_cfg('ViT-B-16', 'openai')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model = load_clip(dict(model_name='ViT-B-16', pretrained='openai',
                               quick_gelu=quick_gelu))
    mismatch = [str(warning.message) for warning in caught
                if 'QuickGELU mismatch' in str(warning.message)]
    assert bool(mismatch) == (not quick_gelu)
    _assert_same_weights(model, _tiny_clip(3))
    preprocess = model.visual.preprocess_cfg
    assert tuple(preprocess['mean']) == tag['mean'] and tuple(preprocess['std']) == tag['std']
    assert tuple(preprocess['size']) == (64, 64)


def test_no_notice_of_random_weights_when_weights_are_loaded(tmp_path, caplog):
    """open_clip builds the architecture without weights and logs that it was initialized
    randomly; that notice is kept for random weights only."""
    path = tmp_path / 'tiny.pt'
    _save(_tiny_clip(3).state_dict(), path)
    with caplog.at_level(logging.INFO):
        load_clip(dict(model_name=TINY, pretrained=str(path)))
    assert not [record for record in caplog.records if 'randomly' in record.getMessage()]
    clear_clip_cache()
    with caplog.at_level(logging.INFO):
        load_clip(dict(model_name=TINY, pretrained=None, init_seed=123))
    assert [record for record in caplog.records if 'randomly' in record.getMessage()]


def test_hf_hub_model_in_the_hub_cache_is_loaded_as_open_clip_loads_it(tmp_path,
                                                                       monkeypatch):
    """A hub repository already in the cache (offline here): open_clip reads its config and
    finds its weights file, the loader reads that file."""
    # open_clip's own download, which finds the file in the cache (HF_HUB_OFFLINE is set).
    monkeypatch.setattr(open_clip, 'download_pretrained',
                        open_clip.pretrained.download_pretrained)
    snapshot = tmp_path / 'models--org--tiny' / 'snapshots' / 'abc'
    snapshot.mkdir(parents=True)
    (tmp_path / 'models--org--tiny' / 'refs').mkdir()
    (tmp_path / 'models--org--tiny' / 'refs' / 'main').write_text('abc')
    (snapshot / 'open_clip_config.json').write_text(
        json.dumps({'model_cfg': open_clip.get_model_config(TINY)}))
    _save(_tiny_clip(3).state_dict(), snapshot / 'open_clip_model.safetensors')
    expected = open_clip.create_model('hf-hub:org/tiny', cache_dir=str(tmp_path))
    _assert_same_weights(expected, _tiny_clip(3))
    model = load_clip(dict(model_name='hf-hub:org/tiny', cache_dir=str(tmp_path)))
    _assert_same_weights(model, expected)

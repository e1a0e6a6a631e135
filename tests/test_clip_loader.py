"""open_clip loading: names, tags, local checkpoints, packaged weights, once per process.

Only tiny models or random initialisation; nothing here may download.
"""
import gzip
import os

import open_clip
import pytest
import torch
from open_clip.model import CLIP
from safetensors.torch import save_file

from mmseg_clipseg.clip import loader
from mmseg_clipseg.clip.loader import CLIPConfig, load_clip, packaged_weights
from mmseg_clipseg.errors import MissingFileError, UserInputError

TINY = 'clipseg-test-tiny'


@pytest.fixture(autouse=True)
def _never_download(monkeypatch):
    """Fail loudly if anything asks open_clip for pretrained weights."""
    real_create_model = open_clip.create_model

    def create_model(model_name, pretrained=None, **kwargs):
        assert pretrained is None, f'test tried to download {model_name}/{pretrained}'
        return real_create_model(model_name, pretrained=None, **kwargs)

    monkeypatch.setattr(open_clip, 'create_model', create_model)


@pytest.fixture(scope='module')
def seed1_state():
    """The state dict of the tiny model built with init_seed=1 (a copy)."""
    model = load_clip(dict(model_name=TINY, pretrained=None, init_seed=1))
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _assert_weights_equal(model, state):
    model_state = model.state_dict()
    assert set(model_state) == set(state)
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter.detach(), state[name]), name
    for name, value in model_state.items():
        assert torch.equal(value, state[name]), name


def test_seeds_give_different_weights(seed1_state):
    seed0 = load_clip(dict(model_name=TINY, pretrained=None, init_seed=0))
    differing = [name for name, value in seed0.state_dict().items()
                 if not torch.equal(value, seed1_state[name])]
    assert 'visual.conv1.weight' in differing


def test_unknown_model_name_suggests_close_matches():
    with pytest.raises(UserInputError, match='ViT-B-61') as info:
        load_clip(dict(model_name='ViT-B-61', pretrained=None))
    assert 'ViT-B-16' in str(info.value)
    assert 'Did you mean' in str(info.value)


def test_unknown_pretrained_tag_lists_the_model_tags():
    with pytest.raises(UserInputError) as info:
        load_clip(dict(model_name='ViT-B-16', pretrained='no_such_tag'))
    message = str(info.value)
    assert 'no_such_tag' in message
    for tag in ('openai', 'laion2b_s34b_b88k'):
        assert tag in message


def test_missing_checkpoint_file_names_the_path(tmp_path):
    path = str(tmp_path / 'missing' / 'clip.pt')
    with pytest.raises(MissingFileError, match='does not exist') as info:
        load_clip(dict(model_name=TINY, pretrained=path))
    assert path in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_load_plain_state_dict(tmp_path, seed1_state):
    path = tmp_path / 'tiny_plain.pt'
    torch.save(seed1_state, path)
    model = load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    _assert_weights_equal(model, seed1_state)


def test_load_wrapped_state_dict_with_module_prefixes(tmp_path, seed1_state):
    path = tmp_path / 'tiny_wrapped.pth'
    torch.save({'state_dict': {f'module.{key}': value for key, value in seed1_state.items()},
                'epoch': 3}, path)
    model = load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    _assert_weights_equal(model, seed1_state)


def test_load_safetensors(tmp_path, seed1_state):
    path = tmp_path / 'tiny.safetensors'
    save_file({key: value.contiguous() for key, value in seed1_state.items()}, str(path))
    model = load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    _assert_weights_equal(model, seed1_state)


@pytest.mark.parametrize('name', ['tiny_gz.safetensors.gz', 'tiny_gz.pt.gz'])
def test_load_gzip_compressed_checkpoints(tmp_path, seed1_state, name):
    plain = tmp_path / name.removesuffix('.gz')
    if plain.suffix == '.safetensors':
        save_file({key: value.contiguous() for key, value in seed1_state.items()}, str(plain))
    else:
        torch.save(seed1_state, plain)
    with open(plain, 'rb') as source, gzip.open(tmp_path / name, 'wb') as target:
        target.write(source.read())
    model = load_clip(dict(model_name=TINY, pretrained=str(tmp_path / name), init_seed=0))
    _assert_weights_equal(model, seed1_state)


def test_checkpoint_path_with_tilde_is_expanded(tmp_path, seed1_state, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    torch.save(seed1_state, tmp_path / 'home_tiny.pt')
    model = load_clip(dict(model_name=TINY, pretrained='~/home_tiny.pt', init_seed=0))
    _assert_weights_equal(model, seed1_state)


def _other_clip(vision_layers: int, vision_width: int) -> CLIP:
    torch.manual_seed(0)
    return CLIP(embed_dim=32,
                vision_cfg=dict(image_size=64, layers=vision_layers, width=vision_width,
                                head_width=16, patch_size=8),
                text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4,
                              layers=2))


@pytest.mark.parametrize('vision_layers, vision_width', [(6, 32), (4, 64)],
                         ids=['other-width', 'fewer-layers'])
def test_checkpoint_of_another_model_does_not_fit(tmp_path, vision_layers, vision_width):
    path = tmp_path / 'other.pt'
    torch.save(_other_clip(vision_layers, vision_width).state_dict(), path)
    with pytest.raises(UserInputError, match='does not fit') as info:
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    assert str(path) in str(info.value)
    assert TINY in str(info.value)


class _Payload:
    """Unpickling this calls os.mkdir(marker): code that must never run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.mark.parametrize('wrap', [False, True], ids=['bare', 'inside-dict'])
def test_pickled_object_is_refused_without_running_it(tmp_path, wrap):
    marker = str(tmp_path / 'code_ran')
    payload = _Payload(marker)
    path = tmp_path / 'evil.pt'
    torch.save({'visual.proj': torch.zeros(1), 'extra': payload} if wrap else payload, path)
    with pytest.raises(UserInputError, match='Could not read checkpoint'):
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    assert not os.path.exists(marker)


def test_checkpoint_holding_no_state_dict_is_refused(tmp_path):
    path = tmp_path / 'list.pt'
    torch.save([torch.zeros(2)], path)
    with pytest.raises(UserInputError, match='not a state dict'):
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))


def test_load_clip_is_once_per_process(monkeypatch):
    calls = []
    counted_create_model = open_clip.create_model

    def create_model(*args, **kwargs):
        calls.append(args)
        return counted_create_model(*args, **kwargs)

    monkeypatch.setattr(open_clip, 'create_model', create_model)
    config = dict(model_name=TINY, pretrained=None, init_seed=12345)
    first = load_clip(config)
    assert load_clip(dict(config)) is first
    assert load_clip(CLIPConfig(**config)) is first
    assert len(calls) == 1
    assert not first.training
    assert load_clip(dict(config, init_seed=12346)) is not first
    assert len(calls) == 2


def test_random_init_is_reproducible_after_cache_clear():
    config = dict(model_name=TINY, pretrained=None, init_seed=777)
    state = {key: value.clone() for key, value in load_clip(config).state_dict().items()}
    loader._load_clip_cached.cache_clear()
    rebuilt = load_clip(config)
    _assert_weights_equal(rebuilt, state)


def test_from_value_validates():
    with pytest.raises(UserInputError, match='pretraind') as info:
        CLIPConfig.from_value(dict(model_name=TINY, pretraind='openai'))
    assert 'pretrained' in str(info.value)  # the known settings are listed
    with pytest.raises(UserInputError, match='model_name'):
        CLIPConfig.from_value(dict(pretrained=None))
    with pytest.raises(UserInputError):
        CLIPConfig.from_value('ViT-B-16')
    config = CLIPConfig(model_name=TINY)
    assert CLIPConfig.from_value(config) is config
    assert CLIPConfig.from_value(dict(model_name=TINY)) == config


def test_non_vit_model_is_rejected():
    with pytest.raises(UserInputError, match='ViT') as info:
        load_clip(dict(model_name='RN50', pretrained=None))
    assert 'RN50' in str(info.value)
    assert 'ModifiedResNet' in str(info.value)


def test_failing_tag_download_tells_how_to_use_a_file(monkeypatch):
    loader._load_clip_cached.cache_clear()

    def create_model(model_name, pretrained=None, **kwargs):
        if pretrained is not None:
            raise OSError('Network is unreachable')
        raise AssertionError('a tag must not fall back to random weights')

    monkeypatch.setattr(open_clip, 'create_model', create_model)
    with pytest.raises(UserInputError) as info:
        load_clip(dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True))
    message = str(info.value)
    assert 'openai' in message and 'ViT-B-16' in message
    assert 'Network is unreachable' in message
    assert 'download' in message
    assert 'model.clip.pretrained' in message
    assert isinstance(info.value.__cause__, OSError)


def test_packaged_weights_become_tags(tmp_path, monkeypatch, seed1_state):
    monkeypatch.setattr(loader, 'PACKAGED_WEIGHTS_DIR', tmp_path)
    assert packaged_weights(TINY) == {}
    weights = tmp_path / f'{TINY}__mytag.safetensors'
    save_file({key: value.contiguous() for key, value in seed1_state.items()}, str(weights))
    (tmp_path / f'{TINY}__notes.txt').write_text('not weights')
    (tmp_path / 'ViT-B-16__other.safetensors').write_bytes(b'')
    assert packaged_weights(TINY) == {'mytag': weights}
    assert set(packaged_weights('ViT-B-16')) == {'other'}

    config = CLIPConfig(model_name=TINY, pretrained='mytag')
    assert config.pretrained_is_file
    assert config.checkpoint_path == str(weights)
    loader._load_clip_cached.cache_clear()
    try:
        model = load_clip(dict(model_name=TINY, pretrained='mytag', init_seed=0))
        _assert_weights_equal(model, seed1_state)
        # An unknown tag now lists the packaged one.
        with pytest.raises(UserInputError, match='mytag'):
            load_clip(dict(model_name=TINY, pretrained='othertag'))
    finally:
        loader._load_clip_cached.cache_clear()


def test_weights_identity_tracks_the_weights(tmp_path, seed1_state):
    random0 = CLIPConfig(model_name=TINY, init_seed=0).weights_identity()
    random1 = CLIPConfig(model_name=TINY, init_seed=1).weights_identity()
    assert random0 != random1
    path = tmp_path / 'tiny.pt'
    torch.save(seed1_state, path)
    config = CLIPConfig(model_name=TINY, pretrained=str(path))
    before = config.weights_identity()
    assert str(path) in before
    torch.save({key: value + 1 for key, value in seed1_state.items()}, path)
    os.utime(path, ns=(1, 1))
    assert config.weights_identity() != before
    tag = CLIPConfig(model_name='ViT-B-16', pretrained='openai').weights_identity()
    assert 'openai' in tag and tag != random0

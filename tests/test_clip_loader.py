"""open_clip loading: names, tags, local checkpoints, packaged weights, local-dir:/hf-hub:
folders, safe reading and error messages.

Only tiny models or random initialisation; nothing here may download.
"""
import gzip
import io
import json
import os
import time
import warnings

import huggingface_hub.constants
import open_clip
from open_clip.constants import HF_WEIGHTS_NAME
import open_clip.factory
import pytest
import torch
from open_clip.model import CLIP
from safetensors.torch import load_file, save_file
from torch import nn

from mmseg_clipseg.clip import loader, offline
from mmseg_clipseg.clip import config as clip_config
from mmseg_clipseg.clip.loader import (CLIPConfig, clear_clip_cache, load_clip,
                                       packaged_weights)
from mmseg_clipseg.utils.errors import MissingFileError, UserInputError

TINY = 'clipseg-test-tiny'
SYNTH = dict(model_name='clipseg-tiny-synth', pretrained='synthetic')


@pytest.fixture(autouse=True)
def _never_download(monkeypatch):
    """Fail loudly if anything asks open_clip for weights (it would have to download them)."""
    real_create_model = open_clip.create_model

    def create_model(model_name, pretrained=None, **kwargs):
        assert pretrained is None or os.path.isfile(pretrained), \
            f'test tried to download {model_name}/{pretrained}'
        return real_create_model(model_name, pretrained=pretrained, **kwargs)

    def download_pretrained(pretrained_cfg, **kwargs):
        raise AssertionError(f'test tried to download {pretrained_cfg}')

    monkeypatch.setattr(open_clip, 'create_model', create_model)
    monkeypatch.setattr(open_clip, 'download_pretrained', download_pretrained)
    # huggingface_hub reads HF_HUB_OFFLINE when imported; set both for hf-hub: names.
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)


@pytest.fixture(scope='module')
def seed1_state():
    """The state dict of the tiny model built with init_seed=1 (a copy)."""
    model = load_clip(dict(model_name=TINY, pretrained=None, init_seed=1))
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _assert_weights_equal(model, state):
    model_state = model.state_dict()
    assert set(model_state) == set(state)
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter.detach(), state[name].to(parameter.dtype)), name
    for name, value in model_state.items():
        assert torch.equal(value, state[name].to(value.dtype)), name


def _save_safetensors(state, path):
    save_file({key: value.contiguous() for key, value in state.items()}, str(path))


def _assert_one_line_without_network_talk(error):
    message = str(error)
    assert '\n' not in message
    assert 'internet' not in message.lower() and 'offline' not in message.lower()


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
    assert 'local-dir:' in str(info.value) and 'hf-hub:' in str(info.value)


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


def test_folder_given_as_checkpoint_says_so(tmp_path):
    with pytest.raises(UserInputError, match='is a folder, not a file') as info:
        load_clip(dict(model_name=TINY, pretrained=str(tmp_path)))
    assert 'checkpoint file inside' in str(info.value)
    (tmp_path / 'open_clip_config.json').write_text('{}')
    with pytest.raises(UserInputError, match='is a folder, not a file') as info:
        load_clip(dict(model_name=TINY, pretrained=str(tmp_path)))
    assert f'local-dir:{tmp_path}' in str(info.value)


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


def test_load_state_dict_under_model_key(tmp_path, seed1_state):
    path = tmp_path / 'tiny_model_key.pth'
    torch.save({'model': seed1_state, 'epoch': 3}, path)
    model = load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    _assert_weights_equal(model, seed1_state)


def test_load_safetensors(tmp_path, seed1_state):
    path = tmp_path / 'tiny.safetensors'
    _save_safetensors(seed1_state, path)
    model = load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    _assert_weights_equal(model, seed1_state)


@pytest.mark.parametrize('name', ['tiny_gz.safetensors.gz', 'tiny_gz.pt.gz'])
def test_load_gzip_compressed_checkpoints(tmp_path, seed1_state, name):
    plain = tmp_path / name.removesuffix('.gz')
    if plain.suffix == '.safetensors':
        _save_safetensors(seed1_state, plain)
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


class _Holder(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _save_torchscript(state, path):
    """A TorchScript archive whose state dict is ``state``, like OpenAI's .pt files."""
    root = _Holder()
    for key, value in state.items():
        *parents, leaf = key.split('.')
        module = root
        for part in parents:
            if not hasattr(module, part):
                module.add_module(part, _Holder())
            module = getattr(module, part)
        module.register_buffer(leaf, value.clone())
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.jit.script(root).save(str(path))


def test_load_openai_style_torchscript_archive(tmp_path, seed1_state):
    path = tmp_path / 'ViT-tiny.pt'
    metadata = dict(input_resolution=torch.tensor(64), context_length=torch.tensor(77),
                    vocab_size=torch.tensor(49408))
    # OpenAI's archives are fp16.
    _save_torchscript({**{key: value.half() for key, value in seed1_state.items()},
                       **metadata}, path)
    with pytest.raises(Exception), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # why the loader reads it itself: open_clip refuses it
        open_clip.create_model(TINY, pretrained=str(path))
    model = load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    _assert_weights_equal(model, {key: value.half() for key, value in seed1_state.items()})
    assert model.visual.conv1.weight.dtype == torch.float32


def test_positional_embedding_of_another_image_size_is_resized(tmp_path, seed1_state):
    """open_clip interpolates the position embeddings of a checkpoint for another grid."""
    torch.manual_seed(0)
    small = CLIP(embed_dim=32,
                 vision_cfg=dict(image_size=32, layers=6, width=64, head_width=16,
                                 patch_size=8),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=4,
                               layers=2))
    state = small.state_dict()
    path = tmp_path / 'small_grid.pt'
    torch.save(state, path)
    model = load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    assert state['visual.positional_embedding'].shape == (4 * 4 + 1, 64)
    assert model.visual.positional_embedding.shape == (8 * 8 + 1, 64)
    assert torch.equal(model.visual.conv1.weight, state['visual.conv1.weight'])


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
    message = str(info.value)
    assert str(path) in message
    assert TINY in message
    assert 'wrong model_name?' in message
    assert ('size mismatch' if vision_width != 64 else 'Missing key') in message
    _assert_one_line_without_network_talk(info.value)


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
    with pytest.raises(UserInputError, match='Could not read checkpoint') as info:
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    assert 'pickled Python objects' in str(info.value)
    assert 'mkdir' in str(info.value)
    assert '\n' not in str(info.value)
    assert not os.path.exists(marker)


def test_gzip_compressed_pickled_object_names_the_given_file(tmp_path):
    marker = str(tmp_path / 'code_ran')
    buffer = io.BytesIO()
    torch.save(_Payload(marker), buffer)
    path = tmp_path / 'evil.pt.gz'
    path.write_bytes(gzip.compress(buffer.getvalue()))
    with pytest.raises(UserInputError, match='pickled Python objects') as info:
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    assert repr(str(path)) in str(info.value)  # not the decompressed temporary file
    assert not os.path.exists(marker)


class _TypeErrorTrigger:
    """A tensor whose legacy 5-tuple state makes torch's weights-only unpickler raise
    TypeError (full pickle accepts it): open_clip then retries torch.load without
    weights_only."""

    def __reduce__(self):
        storage = torch.storage.TypedStorage(wrap_storage=torch.zeros(1).untyped_storage(),
                                             dtype=torch.float32, _internal=True)
        from collections import OrderedDict
        return (torch._utils._rebuild_tensor_v2,
                (storage, 0, (1,), (1,), False, OrderedDict()),
                (torch.zeros(1), False, None, False, None))


def _save_type_error_payload(path, marker):
    torch.save({'a': _TypeErrorTrigger(), 'b': _Payload(marker)}, path)


def test_type_error_fallback_of_open_clip_runs_no_code(tmp_path, monkeypatch):
    """With torch < 2.6 or TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, open_clip's load_state_dict
    would unpickle this file; the loader reads every file itself, weights-only."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = str(tmp_path / 'code_ran')
    path = tmp_path / 'evil_type_error.pt'
    _save_type_error_payload(path, marker)
    with pytest.raises(UserInputError, match='not a readable checkpoint'):
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    assert not os.path.exists(marker)
    # The same file as the weights of a local-dir: folder.
    folder = tmp_path / 'folder'
    folder.mkdir()
    (folder / 'open_clip_config.json').write_text(
        json.dumps({'model_cfg': open_clip.get_model_config(TINY)}))
    _save_type_error_payload(folder / 'open_clip_pytorch_model.bin', marker)
    with pytest.raises(UserInputError, match='not a readable checkpoint'):
        load_clip(dict(model_name=f'local-dir:{folder}'))
    assert not os.path.exists(marker)


def _tiny_architecture_for_every_name(monkeypatch):
    """open_clip builds the tiny model whatever the name (no ViT-B-16 or hub download)."""
    real_create_model = open_clip.create_model
    monkeypatch.setattr(open_clip, 'create_model', lambda model_name, **kwargs:
                        real_create_model(TINY, **kwargs))
    monkeypatch.setattr(loader, '_PRISTINE', {})  # no tiny model cached as another name


def _serve_downloads(monkeypatch, path):
    """open_clip's downloads of tags and hub weights all give the file ``path``."""
    monkeypatch.setattr(loader, 'check_weights_reachable', lambda config: None)
    monkeypatch.setattr(open_clip, 'download_pretrained',
                        lambda pretrained_cfg, cache_dir=None: str(path))


@pytest.mark.parametrize('model_name, pretrained', [('ViT-B-16', 'openai'),
                                                     ('hf-hub:org/repo', None)])
def test_downloaded_weights_are_read_weights_only_even_if_torch_may_unpickle(
        tmp_path, monkeypatch, seed1_state, model_name, pretrained):
    """Downloaded weights are read by the loader, weights-only, like local files: with
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD set (which makes open_clip's own retry without
    weights_only unpickle anything) a plain state dict loads and a crafted file runs no
    code; the environment is left alone."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', 'yes')
    monkeypatch.delenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', raising=False)
    _tiny_architecture_for_every_name(monkeypatch)
    config = dict(model_name=model_name, pretrained=pretrained, quick_gelu=True,
                  cache_dir=str(tmp_path))
    good = tmp_path / 'downloaded.bin'
    torch.save(seed1_state, good)
    _serve_downloads(monkeypatch, good)
    _assert_weights_equal(load_clip(config), seed1_state)
    marker = str(tmp_path / 'code_ran')
    evil = tmp_path / 'evil_type_error.bin'
    _save_type_error_payload(evil, marker)
    _serve_downloads(monkeypatch, evil)
    clear_clip_cache()  # tags and hub names are cached by name
    with pytest.raises(UserInputError, match='not a readable checkpoint') as info:
        load_clip(config)
    assert '\n' not in str(info.value)
    assert not os.path.exists(marker)
    assert os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] == 'yes'
    assert 'TORCH_FORCE_WEIGHTS_ONLY_LOAD' not in os.environ


def test_loading_leaves_the_environment_alone(monkeypatch):
    seen = []
    real_create_model = open_clip.create_model
    monkeypatch.setattr(open_clip, 'create_model', lambda *args, **kwargs: seen.append(
        dict(os.environ)) or real_create_model(*args, **kwargs))
    before = dict(os.environ)
    clear_clip_cache()
    load_clip(SYNTH)
    assert seen == [before] and dict(os.environ) == before


@pytest.mark.parametrize('content, match', [
    ([torch.zeros(2)], 'holds a list, not a state dict'),
    ({}, 'not a state dict'),
    ({'epoch': 3, 'step': 10}, 'not a state dict'),
])
def test_checkpoint_holding_no_state_dict_is_refused(tmp_path, content, match):
    path = tmp_path / 'no_state.pt'
    torch.save(content, path)
    with pytest.raises(UserInputError, match=match):
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))


def _corrupt(tmp_path, kind, seed1_state):
    safetensors = tmp_path / 'good.safetensors'
    _save_safetensors(seed1_state, safetensors)
    pt = tmp_path / 'good.pt'
    torch.save(seed1_state, pt)
    name, data = {
        'junk-pt': ('junk.pt', b'hello, this is not a checkpoint at all'),
        'truncated-pt': ('cut.pt', pt.read_bytes()[:5000]),
        'junk-safetensors': ('junk.safetensors', b'hello, not safetensors'),
        'truncated-safetensors': ('cut.safetensors', safetensors.read_bytes()[:5000]),
        'not-gzip': ('plain.pt.gz', pt.read_bytes()),
        'truncated-gzip': ('cut.safetensors.gz',
                           gzip.compress(safetensors.read_bytes())[:5000]),
        'gzip-of-junk': ('junk.safetensors.gz', gzip.compress(b'not safetensors')),
    }[kind]
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize('kind', ['junk-pt', 'truncated-pt', 'junk-safetensors',
                                  'truncated-safetensors', 'not-gzip', 'truncated-gzip',
                                  'gzip-of-junk'])
def test_unreadable_checkpoint_gives_one_clear_line(tmp_path, seed1_state, kind):
    path = _corrupt(tmp_path, kind, seed1_state)
    with pytest.raises(UserInputError, match='is not a readable checkpoint file') as info:
        load_clip(dict(model_name=TINY, pretrained=str(path), init_seed=0))
    assert str(path) in str(info.value)
    _assert_one_line_without_network_talk(info.value)


def test_checkpoint_is_read_once_until_clear_clip_cache(tmp_path, seed1_state, monkeypatch):
    calls = []
    counted_create_model = open_clip.create_model

    def create_model(*args, **kwargs):
        calls.append(args)
        return counted_create_model(*args, **kwargs)

    monkeypatch.setattr(open_clip, 'create_model', create_model)
    path = tmp_path / 'once.safetensors'
    _save_safetensors(seed1_state, path)
    config = dict(model_name=TINY, pretrained=str(path))
    first = load_clip(config)
    second = load_clip(CLIPConfig(**config))
    load_clip(config)
    assert len(calls) == 1
    assert second is not first
    assert not first.training and not second.training
    _assert_weights_equal(second, seed1_state)
    clear_clip_cache()  # forgets the loaded model: the next call reads the file again
    load_clip(config)
    assert len(calls) == 2


def test_random_init_is_reproducible_after_cache_clear():
    config = dict(model_name=TINY, pretrained=None, init_seed=777)
    state = {key: value.clone() for key, value in load_clip(config).state_dict().items()}
    clear_clip_cache()
    rebuilt = load_clip(config)
    _assert_weights_equal(rebuilt, state)


def test_loading_leaves_the_global_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    clear_clip_cache()
    load_clip(dict(model_name=TINY, pretrained=None, init_seed=778))
    assert torch.equal(torch.rand(3), expected)


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
    assert CLIPConfig.from_value(dict(model_name=TINY, cache_dir='/x')).cache_dir == '/x'


def test_non_vit_model_is_rejected():
    with pytest.raises(UserInputError, match='ViT') as info:
        load_clip(dict(model_name='RN50', pretrained=None))
    assert 'RN50' in str(info.value)
    assert 'ModifiedResNet' in str(info.value)


def _fail_tag_download(monkeypatch, error):
    """open_clip fails while downloading a tag, after the fail-fast check found the server
    reachable (the connection may drop later)."""
    monkeypatch.setattr(loader, 'check_weights_reachable', lambda config: None)
    _tiny_architecture_for_every_name(monkeypatch)
    seen = {}

    def download_pretrained(pretrained_cfg, cache_dir=None):
        seen.update(pretrained_cfg=pretrained_cfg, cache_dir=cache_dir)
        raise error

    monkeypatch.setattr(open_clip, 'download_pretrained', download_pretrained)
    return seen


def _download_error(cause):
    """The chain open_clip raises when the hub cannot be reached: FileNotFoundError raised
    while handling the hub's error."""
    try:
        try:
            raise cause
        except Exception as error:
            raise FileNotFoundError(f'Failed to download file. Last error: {error}')
    except FileNotFoundError as error:
        return error


def test_failing_tag_download_tells_how_to_use_a_file(monkeypatch, tmp_path):
    import socket
    seen = _fail_tag_download(
        monkeypatch, _download_error(socket.gaierror(-2, 'Name or service not known')))
    with pytest.raises(UserInputError) as info:
        load_clip(dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True,
                       cache_dir=str(tmp_path)))
    message = str(info.value)
    assert 'openai' in message and 'ViT-B-16' in message
    assert 'Name or service not known' in message
    assert 'offline' in message
    assert 'model.clip.pretrained' in message and 'local-dir:' in message
    assert '\n' not in message
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert seen == dict(pretrained_cfg=open_clip.get_pretrained_cfg('ViT-B-16', 'openai'),
                        cache_dir=str(tmp_path))


@pytest.mark.parametrize('offline', ['HF_HUB_OFFLINE', 'unreachable'])
def test_tag_that_must_be_downloaded_fails_fast_offline(offline, monkeypatch, tmp_path):
    """A tag whose weights are not cached and whose server cannot be reached: one line at
    once, before open_clip is asked (the autouse fixture fails if it is)."""
    if offline == 'unreachable':
        monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', False)
        # The discard port: the connection is refused at once.
        monkeypatch.setattr(huggingface_hub.constants, 'ENDPOINT', 'http://127.0.0.1:9')
    start = time.monotonic()
    with pytest.raises(UserInputError) as info:
        load_clip(dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True,
                       cache_dir=str(tmp_path)))
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert '\n' not in message
    assert 'ViT-B-16' in message and "'openai'" in message
    assert ('HF_HUB_OFFLINE is set' if offline == 'HF_HUB_OFFLINE'
            else 'http://127.0.0.1:9 cannot be reached') in message
    assert 'model.clip.pretrained=' in message and 'local-dir:' in message
    assert 'tiny-synthetic' in message and '--model' not in message


def test_cached_tag_weights_need_no_server(monkeypatch, tmp_path):
    """Weights already in the cache open_clip would read are not a download: no check of
    the server. Like open_clip, a tag with a hub entry comes from the hub when
    huggingface_hub is installed, and from its URL otherwise."""
    source = open_clip.get_pretrained_cfg('ViT-B-16', 'openai')
    config = CLIPConfig(model_name='ViT-B-16', pretrained='openai', cache_dir=str(tmp_path))
    (tmp_path / os.path.basename(source['url'])).write_bytes(b'')
    assert offline.weights_source(config) == 'hub'  # the URL's file is not what it reads
    repo, name = os.path.split(source['hf_hub'])
    snapshot = tmp_path / f'models--{repo.replace("/", "--")}' / 'snapshots' / 'abc'
    snapshot.mkdir(parents=True)
    (snapshot / (name or HF_WEIGHTS_NAME)).write_bytes(b'')
    (snapshot.parent.parent / 'refs').mkdir()
    (snapshot.parent.parent / 'refs' / 'main').write_text('abc')
    assert offline.weights_source(config) is None
    offline.check_weights_reachable(config)  # HF_HUB_OFFLINE is set: would raise

    monkeypatch.setattr(offline, 'has_hf_hub', lambda *args: False)
    assert offline.weights_source(config) is None  # the URL's file is in the cache
    elsewhere = CLIPConfig(model_name='ViT-B-16', pretrained='openai',
                           cache_dir=str(tmp_path / 'empty'))
    assert offline.weights_source(elsewhere) == source['url']


@pytest.mark.parametrize('name, alternative', [(HF_WEIGHTS_NAME, 'open_clip_model.safetensors'),
                                               ('ViT-B-16.bin', 'ViT-B-16.safetensors'),
                                               ('weights.pth', 'weights.safetensors'),
                                               ('weights.safetensors', None)])
def test_hub_weights_count_as_cached_by_their_safetensors_alternative(tmp_path, name,
                                                                      alternative):
    """open_clip's hub download tries the safetensors file first; either one cached is no
    download."""
    snapshot = tmp_path / 'models--org--repo' / 'snapshots' / 'abc'
    snapshot.mkdir(parents=True)
    (tmp_path / 'models--org--repo' / 'refs').mkdir()
    (tmp_path / 'models--org--repo' / 'refs' / 'main').write_text('abc')
    assert not offline._hub_weights_cached('org/repo', name, str(tmp_path))
    (snapshot / (alternative or name)).write_bytes(b'')
    assert offline._hub_weights_cached('org/repo', name, str(tmp_path))


def test_failing_tag_load_that_is_not_the_network_does_not_blame_it(monkeypatch):
    _fail_tag_download(monkeypatch, RuntimeError('checksum does not match'))
    with pytest.raises(UserInputError, match='checksum does not match') as info:
        load_clip(dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True))
    assert 'ViT-B-16' in str(info.value) and 'openai' in str(info.value)
    _assert_one_line_without_network_talk(info.value)


def test_packaged_weights_become_tags(tmp_path, monkeypatch, seed1_state):
    monkeypatch.setattr(clip_config, 'PACKAGED_WEIGHTS_DIR', tmp_path)
    assert packaged_weights(TINY) == {}
    weights = tmp_path / f'{TINY}__mytag.safetensors'
    _save_safetensors(seed1_state, weights)
    (tmp_path / f'{TINY}__notes.txt').write_text('not weights')
    (tmp_path / 'ViT-B-16__other.safetensors').write_bytes(b'')
    assert packaged_weights(TINY) == {'mytag': weights}
    assert set(packaged_weights('ViT-B-16')) == {'other'}

    config = CLIPConfig(model_name=TINY, pretrained='mytag')
    assert config.pretrained_is_file
    assert config.checkpoint_path == str(weights)
    clear_clip_cache()
    try:
        model = load_clip(dict(model_name=TINY, pretrained='mytag', init_seed=0))
        _assert_weights_equal(model, seed1_state)
        # An unknown tag now lists the packaged one.
        with pytest.raises(UserInputError, match='mytag'):
            load_clip(dict(model_name=TINY, pretrained='othertag'))
    finally:
        clear_clip_cache()


def _local_dir_from_packaged_model(folder):
    """An open_clip model folder (what open_clip's push_to_hub writes) holding the packaged
    tiny model: open_clip_config.json with model_cfg/preprocess_cfg, and the weights."""
    folder.mkdir()
    packaged = packaged_weights(SYNTH['model_name'])[SYNTH['pretrained']]
    (folder / 'open_clip_model.safetensors').write_bytes(gzip.decompress(packaged.read_bytes()))
    config = {'model_cfg': open_clip.get_model_config(SYNTH['model_name']),
              'preprocess_cfg': {'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5]}}
    (folder / 'open_clip_config.json').write_text(json.dumps(config))
    return folder


def test_local_dir_model_equals_the_packaged_model(tmp_path):
    folder = _local_dir_from_packaged_model(tmp_path / 'tiny_synth')
    model = load_clip(dict(model_name=f'local-dir:{folder}'))
    packaged = load_clip(SYNTH)
    _assert_weights_equal(model, packaged.state_dict())
    assert tuple(model.visual.preprocess_cfg['mean']) == (0.5, 0.5, 0.5)
    assert not model.training
    weights = load_file(str(folder / 'open_clip_model.safetensors'))
    assert weights['visual.conv1.weight'].dtype == torch.float16  # loaded into fp32
    assert model.visual.conv1.weight.dtype == torch.float32


def test_local_dir_with_tilde(tmp_path, monkeypatch):
    _local_dir_from_packaged_model(tmp_path / 'home_synth')
    monkeypatch.setenv('HOME', str(tmp_path))
    config = CLIPConfig(model_name='local-dir:~/home_synth')
    assert config.model_name == f'local-dir:{tmp_path}/home_synth'
    _assert_weights_equal(load_clip(config), load_clip(SYNTH).state_dict())


def test_local_dir_problems_are_named(tmp_path):
    with pytest.raises(MissingFileError, match='does not exist'):
        load_clip(dict(model_name=f'local-dir:{tmp_path / "nothing"}'))
    with pytest.raises(MissingFileError, match='open_clip_config.json'):
        load_clip(dict(model_name=f'local-dir:{tmp_path}'))
    (tmp_path / 'open_clip_config.json').write_text(
        json.dumps({'model_cfg': open_clip.get_model_config(TINY)}))
    with pytest.raises(MissingFileError, match='no weights file'):
        load_clip(dict(model_name=f'local-dir:{tmp_path}'))
    folder = _local_dir_from_packaged_model(tmp_path / 'synth')
    with pytest.raises(UserInputError, match='leave pretrained'):
        load_clip(dict(model_name=f'local-dir:{folder}', pretrained='synthetic'))


def test_local_dir_with_weights_of_another_model(tmp_path):
    folder = _local_dir_from_packaged_model(tmp_path / 'mismatch')
    (folder / 'open_clip_config.json').write_text(
        json.dumps({'model_cfg': open_clip.get_model_config(TINY)}))
    with pytest.raises(UserInputError, match='does not fit') as info:
        load_clip(dict(model_name=f'local-dir:{folder}'))
    assert str(folder) in str(info.value)
    _assert_one_line_without_network_talk(info.value)


def test_hf_hub_offline_fails_quickly_with_one_line(tmp_path):
    start = time.monotonic()
    with pytest.raises(UserInputError) as info:
        load_clip(dict(model_name='hf-hub:someorg/some-clip', cache_dir=str(tmp_path)))
    assert time.monotonic() - start < 20
    message = str(info.value)
    assert 'hf-hub:someorg/some-clip' in message
    assert 'offline' in message and 'local-dir:' in message
    assert '\n' not in message
    with pytest.raises(UserInputError, match='needs a repository'):
        load_clip(dict(model_name='hf-hub:'))
    with pytest.raises(UserInputError, match='leave pretrained'):
        load_clip(dict(model_name='hf-hub:someorg/some-clip', pretrained='openai'))


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
    assert CLIPConfig(model_name='ViT-B-16', pretrained='openai',
                      cache_dir=str(tmp_path)).weights_identity() == tag
    hub = CLIPConfig(model_name='hf-hub:org/repo').weights_identity()
    assert 'hf-hub:org/repo' in hub
    assert hub != CLIPConfig(model_name='hf-hub:org/other').weights_identity()
    packaged = CLIPConfig(**SYNTH).weights_identity()
    assert str(packaged_weights(SYNTH['model_name'])['synthetic']) in packaged


def test_weights_identity_of_a_local_dir_follows_its_files(tmp_path):
    folder = _local_dir_from_packaged_model(tmp_path / 'ident')
    config = CLIPConfig(model_name=f'local-dir:{folder}')
    before = config.weights_identity()
    assert str(folder) in before and 'open_clip_model.safetensors' in before
    weights = folder / 'open_clip_model.safetensors'
    os.utime(weights, ns=(1, 1))
    assert config.weights_identity() == before  # a new time stamp, the same content
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    changed = config.weights_identity()
    assert changed != before
    (folder / 'open_clip_config.json').write_text(
        (folder / 'open_clip_config.json').read_text() + ' ')
    assert config.weights_identity() != changed

"""The Python inference API (mmseg_clipseg.apis) on the packaged tiny CLIP."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_clipseg.apis import (Segmentation, available_models, check_device, init_segmentor,
                                model_config, option_paths, segment)
from mmseg_clipseg.datasets.synthetic_scenes import SceneGenerator
from mmseg_clipseg.utils.errors import UserInputError

STUFF = ['grass', 'water', 'sand', 'rock']


@pytest.fixture(scope='module')
def scenes():
    generator = SceneGenerator(size=64)
    rng = np.random.default_rng(5)
    return [generator.sample(rng) for _ in range(3)]


@pytest.fixture(scope='module')
def segmentor():
    return init_segmentor('tiny-synthetic', device='cpu')


def test_readme_example(tmp_path, scenes):
    path = tmp_path / 'scene.png'
    Image.fromarray(scenes[0].image).save(path)
    # As in the README:
    segmentor = init_segmentor('tiny-synthetic', device='cpu')
    result = segment(segmentor, str(path), ['grass', 'water', 'sand', 'rock'])
    assert isinstance(result, Segmentation)
    assert result.labels.shape == (64, 64) and result.labels.dtype == np.int64
    assert result.classes == STUFF
    # The tiny model knows its scenes: most stuff pixels are right.
    stuff = scenes[0].label < 4
    assert (result.labels[stuff] == scenes[0].label[stuff]).mean() > 0.7


def test_arrays_paths_pil_and_tensors_agree(tmp_path, segmentor, scenes):
    image = scenes[1].image
    path = tmp_path / 'scene.png'
    Image.fromarray(image).save(path)
    inputs = [str(path), path, image, Image.fromarray(image),
              torch.from_numpy(image).permute(2, 0, 1)]
    results = [segment(segmentor, item, STUFF).labels for item in inputs]
    for labels in results[1:]:
        np.testing.assert_array_equal(labels, results[0])


def test_a_batch_equals_one_image_at_a_time(segmentor, scenes):
    images = [scene.image for scene in scenes]
    images[2] = np.ascontiguousarray(images[2][:48])  # mixed sizes in one batch
    batched = segment(segmentor, images, STUFF, batch_size=3, return_probabilities=True)
    assert isinstance(batched, list) and len(batched) == 3
    for image, result in zip(images, batched):
        alone = segment(segmentor, image, STUFF, return_probabilities=True)
        assert result.labels.shape == image.shape[:2]
        np.testing.assert_array_equal(result.labels, alone.labels)
        np.testing.assert_allclose(result.probabilities, alone.probabilities, atol=1e-5)


def test_probabilities_are_per_class_and_decide_the_labels(segmentor, scenes):
    result = segment(segmentor, scenes[0].image, [STUFF[0], 'water, lake', *STUFF[2:]],
                     return_probabilities=True)
    assert result.probabilities.shape == (4, 64, 64)
    assert result.probabilities.min() >= 0 and result.probabilities.max() <= 1
    np.testing.assert_array_equal(result.probabilities.argmax(axis=0), result.labels)
    assert segment(segmentor, scenes[0].image, STUFF).probabilities is None


def test_names_changed_between_calls_equal_a_fresh_model(segmentor, scenes):
    first = ['grass', 'water', 'sand', 'rock', 'circle', 'square', 'triangle']
    second = ['rock', 'sand', 'grass, lawn']
    image = scenes[2].image
    segment(segmentor, image, first)
    switched = segment(segmentor, image, second)
    fresh = segment(init_segmentor('tiny-synthetic', device='cpu'), image, second)
    np.testing.assert_array_equal(switched.labels, fresh.labels)
    assert switched.classes == ['rock', 'sand', 'grass']
    again = segment(segmentor, image, first)
    np.testing.assert_array_equal(again.labels, segment(segmentor, image, first).labels)


@pytest.mark.parametrize('text,classes', [
    ('grass, water, sand, rock', STUFF),
    ('grass; water, lake; sand; rock', STUFF),
    ('synthetic', ['grass', 'water', 'sand', 'rock', 'circle', 'square', 'triangle']),
])
def test_classes_in_one_string_as_on_the_command_line(segmentor, scenes, text, classes):
    """The text that ``--classes`` takes, read by the tools' own parser, gives what the
    tools give: the same classes (with synonyms) and the same labels as the list form."""
    from mmseg_clipseg.apis.image_tool_options import parse_classes
    result = segment(segmentor, scenes[0].image, text)
    assert result.classes == classes
    listed = segment(segmentor, scenes[0].image, [list(names) for names in parse_classes(text)])
    np.testing.assert_array_equal(result.labels, listed.labels)
    assert segmentor.decode_head.classes == parse_classes(text)


@pytest.mark.parametrize('text,message', [
    ('grass', "class_names 'grass' is a single class"),
    ('names.txt', 'looks like a names file, but there is no such file'),
    ('grass,, water', 'empty class name'),
])
def test_bad_class_strings_are_refused_as_on_the_command_line(segmentor, scenes, text,
                                                              message):
    with pytest.raises(UserInputError, match=message):
        segment(segmentor, scenes[0].image, text)


def test_background_as_a_text_class(segmentor, scenes):
    result = segment(segmentor, scenes[0].image, ['rock', 'grass', 'water'],
                     background='text')
    assert set(np.unique(result.labels)) <= {0, 1, 2}


def test_model_options_and_config_paths(scenes):
    maskclip = init_segmentor('configs/clipseg_tiny_synthetic.py', device='cpu',
                              **{'backbone.dense_mode': 'maskclip'})
    assert maskclip.backbone.dense_mode == 'maskclip'
    assert segment(maskclip, scenes[0].image, STUFF).labels.shape == (64, 64)
    assert set(available_models()) >= {'vitb', 'vitl', 'openclip-vith', 'tiny-synthetic'}


def test_model_config_takes_model_relative_prefixed_and_top_level_keys():
    options = {'backbone.dense_mode': 'maskclip', 'model.decode_head.prob_thd': 0.0,
               'test_cfg.mode': 'whole', 'log_level': 'WARNING'}
    base = model_config('tiny-synthetic')
    assert option_paths(base, options) == {
        'model.backbone.dense_mode': 'maskclip', 'model.decode_head.prob_thd': 0.0,
        'model.test_cfg.mode': 'whole', 'log_level': 'WARNING'}
    cfg = model_config(base, options)
    assert cfg.model.backbone.dense_mode == 'maskclip' and cfg.log_level == 'WARNING'
    assert cfg.model.decode_head.prob_thd == 0.0 and cfg.model.test_cfg.mode == 'whole'
    assert base.model.backbone.dense_mode == 'clipseg'  # a Config is copied, not changed
    with pytest.raises(UserInputError, match="Did you mean 'dense_mode'"):
        model_config(base, {'model.backbone.dense_mod': 'x'})


def test_check_device(monkeypatch):
    assert check_device('cpu') == torch.device('cpu')
    assert check_device(None).type == ('cuda' if torch.cuda.is_available() else 'cpu')
    with pytest.raises(UserInputError, match="--device 'gpu' is not a device"):
        check_device('gpu', '--device')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert check_device('cuda:1') == torch.device('cuda', 1)
    with pytest.raises(UserInputError, match=r'device cuda:2: this machine has 2 GPU\(s\), '
                       r'cuda:0\.\.cuda:1'):
        check_device('cuda:2')


@pytest.mark.parametrize('call,message', [
    (lambda: init_segmentor('vitz'), "Unknown model 'vitz'"),
    (lambda: init_segmentor('tiny-synthetic', device='gpu'), 'is not a device'),
    (lambda: init_segmentor('tiny-synthetic', **{'backbone.dense_mod': 'x'}),
     "Did you mean 'dense_mode'"),
    (lambda: init_segmentor(42), 'model must be a short name'),
    # mmseg's init_model sets both to None; a value given is refused, not dropped.
    (lambda: init_segmentor('tiny-synthetic', **{'model.pretrained': 'x.pt'}),
     r"does not take \['pretrained'\]; the CLIP weights are set by model.clip"),
    (lambda: init_segmentor('tiny-synthetic', **{'model.train_cfg': {}}),
     r"does not take \['train_cfg'\]"),
])
def test_bad_models_and_options(call, message):
    with pytest.raises(UserInputError, match=message):
        call()


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message without a GPU')
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(UserInputError, match='sees no CUDA GPU'):
        init_segmentor('tiny-synthetic', device='cuda')


@pytest.mark.parametrize('images,kwargs,message', [
    ([], {}, 'empty list'),
    (np.zeros((64, 64, 3), np.uint8), dict(batch_size=0), 'batch_size must be a positive'),
    ('/no/such/image.png', {}, 'does not exist'),
    (np.zeros((64, 64, 5), np.uint8), {}, r'has shape \(64, 64, 5\)'),
])
def test_bad_images_and_settings(segmentor, images, kwargs, message):
    with pytest.raises(UserInputError, match=message):
        segment(segmentor, images, STUFF, **kwargs)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
@pytest.mark.parametrize('precision', ['fp32', 'fp16', 'bf16'])
def test_segment_on_cuda_agrees_with_the_cpu(segmentor, scenes, precision):
    cuda = init_segmentor('tiny-synthetic', device='cuda',
                          **{'backbone.precision': precision})
    for scene in scenes:
        on_gpu = segment(cuda, scene.image, STUFF).labels
        on_cpu = segment(segmentor, scene.image, STUFF).labels
        assert (on_gpu == on_cpu).mean() > (0.9999 if precision == 'fp32' else 0.98)


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).resolve().parents[1] / 'README.md').read_text(encoding='utf-8')
    section = readme[readme.index('### From Python'):]
    code = section[section.index('```python') + len('```python'):]
    code = code[:code.index('```')]
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / 'tools'
                                        / 'make_synthetic_scenes.py'),
                    str(tmp_path / 'data' / 'synthetic_scenes'), '--num-images', '2'],
                   check=True, capture_output=True)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, 'README.md', 'exec'), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["['grass', 'water', 'sand', 'rock'] (64, 64)", '(40, 64) (2, 40, 64)']

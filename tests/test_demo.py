"""tools/demo.py beyond one image (tests/test_tools.py has the single-image runs): folders,
globs and --out-dir, synonyms, and the mistakes it must refuse before any inference."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_clipseg.datasets.synthetic_scenes import generate_scenes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = ['--model', 'tiny-synthetic']


def demo(args, env):
    return subprocess.run([sys.executable, 'tools/demo.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def tool():
    """tools/demo.py as a module; it imports only from the package, so the tools folder need
    not be on sys.path."""
    spec = importlib.util.spec_from_file_location('demo_tool',
                                                  osp.join(REPO, 'tools', 'demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('scenes')
    (root / 'more').mkdir()
    paths = [root / 'a.png', root / 'b.png', root / 'more' / 'c.jpg']
    for path, scene in zip(paths, generate_scenes(3, seed=21)):
        Image.fromarray(scene.image).save(path)
    return root


def run_in_process(tool, args, capsys, monkeypatch, allow_inference=False):
    """``run_cli(main)``: the exit status and stderr; fails if a model is built unless
    ``allow_inference``."""
    monkeypatch.delenv('MMSEG_CLIPSEG_DEBUG', raising=False)
    if not allow_inference:
        from mmseg_clipseg_cli import demo_run

        def no_model(*args, **kwargs):
            raise AssertionError('a model was built for a mistake that is known before')
        monkeypatch.setattr(demo_run, 'init_segmentor', no_model)
    status = tool.run([str(arg) for arg in args])
    return status, capsys.readouterr()


def assert_one_error_line(status, captured, *phrases):
    assert status == 1, captured
    errors = [line for line in captured.err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, captured.err
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors[0])


def test_folder_and_glob_give_one_overlay_each(scenes, env, tmp_path):
    out = tmp_path / 'overlays'
    result = demo([str(scenes / 'a.png'), str(scenes / 'more'), str(scenes / '*.png'),
                   '--classes', 'grass, lawn; water; sand; rock; circle, disc; square; '
                   'triangle', *TINY, '--out-dir', str(out)], env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(out)) == ['a.png', 'b.png', 'c.png']  # a.png given twice: once
    for name in ('a', 'b', 'c'):
        with Image.open(out / f'{name}.png') as image:
            assert image.mode == 'RGB' and image.width > image.height >= 256
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith('saved ')] == \
        [f'saved {out / name}.png' for name in ('a', 'b', 'c')]
    assert len([line for line in lines if line.endswith(':')]) == 3  # one header per image
    names = {line.split()[0] for line in lines if line.endswith('%')}
    assert names and names <= {'grass', 'water', 'sand', 'rock', 'circle', 'square',
                               'triangle'}  # synonyms are not classes


def test_existing_output_needs_overwrite(scenes, env, tmp_path):
    out = tmp_path / 'result.png'
    Image.new('RGB', (8, 8), 'red').save(out)
    refused = demo([str(scenes / 'a.png'), '--classes', 'synthetic', *TINY, '--out',
                    str(out)], env)
    assert refused.returncode == 1 and 'Traceback' not in refused.stderr
    assert '--overwrite' in refused.stderr
    with Image.open(out) as image:
        assert image.size == (8, 8)
    replaced = demo([str(scenes / 'a.png'), '--classes', 'synthetic', *TINY, '--out',
                     str(out), '--overwrite'], env)
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    with Image.open(out) as image:
        assert image.width > 256


@pytest.mark.parametrize('case', ['missing_names_file', 'out_is_input', 'out_extension',
                                  'several_images_one_out', 'out_and_out_dir', 'one_class',
                                  'names_folder', 'bad_option_and_existing_out'])
def test_mistakes_fail_before_inference(case, tool, scenes, tmp_path, capsys, monkeypatch):
    image = scenes / 'a.png'
    before = image.read_bytes()
    args, phrases = {
        'missing_names_file': ([image, '--classes', '/missing/file.txt'],
                               ['/missing/file.txt', 'no such file']),
        'out_is_input': ([image, '--classes', 'a, b', '--out', image, '--overwrite'],
                         ['is the input image']),
        'out_extension': ([image, '--classes', 'a, b', '--out', tmp_path / 'x.gif'],
                          ['x.gif', '.png']),
        'several_images_one_out': ([scenes, '--classes', 'a, b', '--out', tmp_path / 'x.png'],
                                   ['--out-dir']),
        'out_and_out_dir': ([image, '--classes', 'a, b', '--out', tmp_path / 'x.png',
                             '--out-dir', tmp_path], ['not both']),
        'one_class': ([image, '--classes', 'cat'], ['single class']),
        'names_folder': ([image, '--classes', scenes], ['is a folder']),
        # the arguments' own mistake first, not the existing output it would also refuse
        'bad_option_and_existing_out': ([image, '--classes', 'a, b', '--out', image,
                                         '--cfg-options', 'backbone.cra.layers=[3,4'],
                                        ['--cfg-options', 'never closed']),
    }[case]
    status, captured = run_in_process(tool, [*args, *TINY], capsys, monkeypatch)
    assert_one_error_line(status, captured, *phrases)
    assert image.read_bytes() == before
    assert not (tmp_path / 'x.gif').exists() and not (tmp_path / 'x.png').exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')
def test_cuda_without_a_gpu_is_a_clear_error(tool, scenes, capsys, monkeypatch):
    status, captured = run_in_process(tool, [scenes / 'a.png', '--classes', 'a, b',
                                             '--device', 'cuda', *TINY], capsys, monkeypatch)
    assert_one_error_line(status, captured, 'no CUDA GPU', '--device cpu')


@pytest.mark.parametrize('offline', ['unreachable', 'HF_HUB_OFFLINE'])
def test_default_model_offline_fails_fast_with_a_hint(offline, scenes, env, tmp_path):
    """The default model's weights are not here and their server cannot be reached: one
    line pointing at --model tiny-synthetic, not a minute of download retries."""
    isolated = dict(env, HOME=str(tmp_path), HF_HOME=str(tmp_path / 'hf'),
                    HF_ENDPOINT='http://127.0.0.1:9')  # the discard port: refused at once
    isolated.pop('HF_HUB_CACHE', None)
    isolated.pop('HF_HUB_OFFLINE', None)
    if offline == 'HF_HUB_OFFLINE':
        isolated['HF_HUB_OFFLINE'] = '1'
    result = demo([str(scenes / 'a.png'), '--classes', 'cat, grass, sky', '--out',
                   str(tmp_path / 'out.png')], isolated)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr
    error, = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert 'tiny-synthetic' in error and 'clip.pretrained=' in error
    assert ('HF_HUB_OFFLINE' if offline == 'HF_HUB_OFFLINE' else 'cannot be reached') in error
    assert not (tmp_path / 'out.png').exists()


def test_legend_draws_non_latin_names():
    from mmseg_clipseg.apis.visualization import render_overlay
    image = np.full((64, 64, 3), 128, np.uint8)
    labels = np.zeros((64, 64), np.int64)
    labels[:, 32:] = 1
    cat = np.asarray(render_overlay(image, labels, ['кот', 'трава']))
    dog = np.asarray(render_overlay(image, labels, ['пёс', 'трава']))
    # Names of three letters each: as missing-glyph boxes they would draw the same.
    assert (cat != dog).any()

"""The command-line tools, run as users run them (subprocesses), on a synthetic VOC folder."""
import glob
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/clipseg_vitb_voc20.py'
TINY_OPTIONS = ['--cfg-options', 'model.clip.model_name=clipseg-test-tiny',
                'model.clip.pretrained=None']
NUM_IMAGES = 3
METRIC_LINE = re.compile(r'aAcc: (\d+\.\d+)\s+mIoU: (\d+\.\d+)\s+mAcc: (\d+\.\d+)')


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    environment = dict(os.environ)
    environment.update(
        PYTHONPATH=REPO + os.pathsep + environment.get('PYTHONPATH', ''),
        MMSEG_CLIPSEG_CACHE=str(tmp_path_factory.mktemp('text_cache')),
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        PYTHON=sys.executable,
    )
    environment.pop('MMSEG_CLIPSEG_DEBUG', None)
    return environment


def run(args, env):
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def run_tool(tool, args, env):
    return run([sys.executable, f'tools/{tool}', *args], env)


def run_tools_concurrently(commands, env):
    """{key: (tool, args)} -> {key: CompletedProcess}, all started at once."""
    processes = {key: subprocess.Popen([sys.executable, f'tools/{tool}', *args], cwd=REPO,
                                       env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
                 for key, (tool, args) in commands.items()}
    results = {}
    for key, process in processes.items():
        stdout, stderr = process.communicate(timeout=300)
        results[key] = subprocess.CompletedProcess(process.args, process.returncode,
                                                   stdout, stderr)
    return results


def assert_clean_error(result, *phrases):
    """A user mistake: non-zero exit, a message naming the problem, no traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr, result.stderr
    assert 'error:' in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)


def json_metrics(work_dir):
    """The metrics mmengine wrote to <work_dir>/<timestamp>/<timestamp>.json."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    assert len(logs) == 1, logs
    with open(logs[0]) as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    final = [record for record in records if 'mIoU' in record]
    assert len(final) == 1, records
    return {key: final[0][key] for key in ('aAcc', 'mIoU', 'mAcc')}


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory, env):
    root = tmp_path_factory.mktemp('voc') / 'VOC2012'
    result = run([sys.executable, 'tools/make_synthetic_voc.py', str(root),
                  '--num-images', str(NUM_IMAGES)], env)
    assert result.returncode == 0, result.stderr
    return str(root)


@pytest.fixture(scope='module')
def single_process_run(tmp_path_factory, env, voc_root):
    """One evaluation, reused: its metrics, its --show-dir output, the 1-process baseline."""
    work_dir = str(tmp_path_factory.mktemp('work_1proc'))
    show_dir = str(tmp_path_factory.mktemp('show'))
    result = run_tool('test.py', [CONFIG, '--data-root', voc_root, '--work-dir', work_dir,
                                  '--show-dir', show_dir, *TINY_OPTIONS], env)
    return result, work_dir, show_dir


def test_test_py_evaluates_and_prints_miou(single_process_run):
    result, work_dir, _ = single_process_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = METRIC_LINE.findall(result.stdout)
    assert len(lines) == 1, result.stdout[-3000:]
    printed = dict(zip(('aAcc', 'mIoU', 'mAcc'), map(float, lines[0])))
    logged = json_metrics(work_dir)
    for key, value in printed.items():
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx(logged[key], abs=1e-4)
    # Every image was evaluated (the loop reports its last iteration).
    assert f'[{NUM_IMAGES}/{NUM_IMAGES}]' in result.stdout


def test_test_py_show_dir_writes_one_png_per_image(single_process_run, voc_root):
    result, _, show_dir = single_process_run
    assert result.returncode == 0, result.stderr[-3000:]
    pngs = sorted(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True))
    assert len(pngs) == NUM_IMAGES, pngs
    names = sorted(osp.splitext(name)[0] for name in
                   os.listdir(osp.join(voc_root, 'JPEGImages')))
    for name, png in zip(names, pngs):
        assert name in osp.basename(png)
        with Image.open(png) as image:
            # Ground truth and prediction side by side, each at the image's size.
            assert image.size == (2 * 480, 360)


@pytest.fixture(scope='module')
def error_runs(tmp_path_factory, env, voc_root):
    """The user mistakes, run side by side (each is mostly start-up time)."""
    root = tmp_path_factory.mktemp('mistakes')
    work = ['--work-dir', str(root / 'work')]
    commands = {
        'missing_data_root': ('test.py', [CONFIG, '--data-root', str(root / 'nowhere'),
                                          *work, *TINY_OPTIONS]),
        'unknown_model': ('test.py', [CONFIG, '--data-root', voc_root, *work,
                                      '--cfg-options', 'model.clip.model_name=ViT-B-61',
                                      'model.clip.pretrained=None']),
        'missing_config': ('test.py', ['configs/no_such_config.py', '--data-root', voc_root,
                                       *work]),
        'class_count_mismatch': ('test.py', [CONFIG, '--data-root', voc_root, *work,
                                             *TINY_OPTIONS,
                                             'model.decode_head.class_names=[cat,dog]']),
        'demo_missing_image': ('demo.py', [str(root / 'no_such_image.jpg'), '--classes',
                                           'a,b', '--out', str(root / 'out.png'),
                                           *TINY_OPTIONS]),
    }
    results = run_tools_concurrently(commands, env)
    return root, results


def test_test_py_missing_data_root_is_a_clean_error(error_runs):
    root, results = error_runs
    assert_clean_error(results['missing_data_root'], '--data-root', str(root / 'nowhere'))


def test_test_py_unknown_model_is_a_clean_error(error_runs):
    assert_clean_error(error_runs[1]['unknown_model'], 'ViT-B-61', 'ViT-B-16')


def test_test_py_missing_config_is_a_clean_error(error_runs):
    assert_clean_error(error_runs[1]['missing_config'], 'configs/no_such_config.py')


def test_class_names_that_do_not_match_the_dataset_are_refused(error_runs):
    assert_clean_error(error_runs[1]['class_count_mismatch'], 'The head has 2 classes',
                       'the test dataset has 20')


def test_demo_missing_image_is_a_clean_error(error_runs):
    root, results = error_runs
    assert_clean_error(results['demo_missing_image'], str(root / 'no_such_image.jpg'))
    assert not (root / 'out.png').exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_same_metrics_as_one(tmp_path, env, voc_root,
                                                    single_process_run):
    one_result, one_work_dir, _ = single_process_run
    assert one_result.returncode == 0, one_result.stderr[-3000:]
    work_dir = str(tmp_path / 'work_2proc')
    result = run(['bash', 'tools/dist_test.sh', CONFIG, '2', '--data-root', voc_root,
                  '--work-dir', work_dir, *TINY_OPTIONS],
                 dict(env, PORT=str(_free_port())))
    errors = [line for line in result.stderr.splitlines() if 'Error' in line]
    assert result.returncode == 0, '\n'.join(errors[-6:]) or result.stderr[-3000:]
    assert json_metrics(work_dir) == json_metrics(one_work_dir)
    two_lines = METRIC_LINE.findall(result.stdout)
    assert two_lines == METRIC_LINE.findall(one_result.stdout)


def _write_images(folder):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    paths = {'rgb': folder / 'photo.jpg', 'grey': folder / 'grey.png',
             'rgba': folder / 'alpha.png'}
    Image.fromarray(rgb).save(paths['rgb'], quality=95)
    Image.fromarray(rgb[..., 0]).save(paths['grey'])
    alpha = rng.integers(0, 256, size=(90, 120, 1), dtype=np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], axis=2), mode='RGBA').save(paths['rgba'])
    return paths


DEMO_CLASSES = ['cat', 'grass', 'sky']
IMAGE_KINDS = ('rgb', 'grey', 'rgba')


@pytest.fixture(scope='module')
def demo_runs(tmp_path_factory, env):
    """tools/demo.py on an RGB jpg, a grey PNG and an RGBA PNG, run side by side."""
    folder = tmp_path_factory.mktemp('demo')
    images = _write_images(folder)
    commands = {kind: ('demo.py', [str(images[kind]), '--classes', ' cat, grass ,sky',
                                   '--out', str(folder / f'out_{kind}.png'), *TINY_OPTIONS])
                for kind in IMAGE_KINDS}
    results = run_tools_concurrently(commands, env)
    return images, {kind: folder / f'out_{kind}.png' for kind in IMAGE_KINDS}, results


@pytest.mark.parametrize('kind', IMAGE_KINDS)
def test_demo_segments_any_image(demo_runs, kind):
    images, outputs, results = demo_runs
    result, out = results[kind], outputs[kind]
    with Image.open(images[kind]) as image:
        assert image.mode == {'rgb': 'RGB', 'grey': 'L', 'rgba': 'RGBA'}[kind]
        input_size = image.size
    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(out) as output:
        assert output.format == 'PNG'
        assert output.mode == 'RGB'
        assert output.width > input_size[0]  # the legend is on the right
        assert output.height >= input_size[1]
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == f'saved {out}'
    class_lines = [line.split() for line in lines[:-1]]
    assert 1 <= len(class_lines) <= len(DEMO_CLASSES)
    names = [fields[0] for fields in class_lines]
    assert len(set(names)) == len(names)
    assert set(names) <= set(DEMO_CLASSES)
    shares = [float(fields[1].rstrip('%')) for fields in class_lines]
    assert all(share > 0 for share in shares)
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) == pytest.approx(100.0, abs=0.1 * len(shares))


def test_benchmark_compares_variants_and_the_text_side(env):
    """tools/benchmark.py on the shipped tiny CLIP: one row per variant, ratios to the first,
    and the text-side report (cut vs all positions, cache)."""
    config = 'configs/clipseg_tiny_synthetic.py'
    images = run_tool('benchmark.py', [config, '--input-size', '64', '128', '--repeats', '1',
                                       '--warmup', '0', '--compare-modes', 'clipseg',
                                       'maskclip', '--compare-windows'], env)
    assert images.returncode == 0, images.stderr[-3000:]
    rows = [line.split() for line in images.stdout.splitlines()
            if line.startswith(('clipseg', 'maskclip'))]
    assert [row[:2] for row in rows] == [['clipseg', 'batched'], ['clipseg', 'per-crop'],
                                        ['maskclip', 'batched'], ['maskclip', 'per-crop']]
    assert float(rows[0][-1]) == 1.0 and all(float(row[2]) > 0 for row in rows)
    assert float(rows[2][5]) == 0.0 and float(rows[0][5]) > 0  # maskclip has no CRA time
    text = run_tool('benchmark.py', [config, '--text', '--text-classes', '2'], env)
    assert text.returncode == 0, text.stderr[-3000:]
    assert 'speed-up from cutting' in text.stdout and 'from the disk cache' in text.stdout

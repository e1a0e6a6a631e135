"""The command-line tools, run as users run them (subprocesses), with the tiny CLIP trained in
this repository on held-out synthetic scenes: the metrics are the model's real ones (stuff
classes around 80 IoU), so a broken pipeline shows as a drop, not as noise around zero.

Bad inputs that need no model are tested in-process in tests/test_tool_inputs.py.
"""
import glob
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/clipseg_tiny_synthetic.py'
NUM_IMAGES = 24  # 3 batches of 8; 12 per process with 2 processes
SEED = 2  # held out: training drew from seed 0's stream
STUFF = ('grass', 'water', 'sand', 'rock')
# Floors well below the measured values (24 scenes of seed 2: stuff IoU 85, 85, 66, 83,
# mIoU 52, aAcc 81), far above what a broken pipeline or random weights give (< 20).
STUFF_FLOOR, STUFF_MEAN_FLOOR, MIOU_FLOOR, AACC_FLOOR = 50.0, 65.0, 35.0, 65.0
METRIC_LINE = re.compile(r'aAcc: (\d+\.\d+)\s+mIoU: (\d+\.\d+)\s+mAcc: (\d+\.\d+)')
CLASS_ROW = re.compile(r'^\|\s*(\w+)\s*\|\s*(\d+\.?\d*)\s*\|\s*(\d+\.?\d*)\s*\|$', re.M)


def run(args, env):
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


class Launched:
    """Tool runs started at once (each is mostly start-up time, so the cores stay busy),
    collected when a test first asks for one. Output goes to files, never a full pipe."""

    def __init__(self, folder, env):
        self.folder, self.env, self.processes = folder, env, {}

    def start(self, key, argv):
        out = open(self.folder / f'{key}.out', 'w')
        err = open(self.folder / f'{key}.err', 'w')
        self.processes[key] = (argv, subprocess.Popen(argv, cwd=REPO, env=self.env,
                                                      stdout=out, stderr=err), out, err)

    def __getitem__(self, key):
        argv, process, out, err = self.processes[key]
        process.wait(timeout=600)
        out.close()
        err.close()
        return subprocess.CompletedProcess(argv, process.returncode,
                                           (self.folder / f'{key}.out').read_text(),
                                           (self.folder / f'{key}.err').read_text())


def tool_argv(tool, *args):
    return [sys.executable, f'tools/{tool}', *args]


def assert_clean_error(result, *phrases):
    """A user mistake: exit status 1, a message naming the problem, no traceback."""
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert 'Traceback' not in result.stderr, result.stderr
    assert 'error:' in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)


def json_results(work_dir):
    """The final metrics of each run in <work_dir>/<timestamp>/<timestamp>.json."""
    runs = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.json'))):
        with open(path) as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        final = [record for record in records if 'mIoU' in record]
        assert len(final) == 1, records
        runs.append({key: final[0][key] for key in ('aAcc', 'mIoU', 'mAcc')})
    return runs


def printed_metrics(stdout):
    lines = METRIC_LINE.findall(stdout)
    assert len(lines) == 1, stdout[-3000:]
    return dict(zip(('aAcc', 'mIoU', 'mAcc'), map(float, lines[0])))


def class_iou(stdout):
    """Per-class IoU from the table tools/test.py prints."""
    return {name: float(iou) for name, iou, _ in CLASS_ROW.findall(stdout)}


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('scenes') / 'synthetic'
    writer = runpy.run_path(osp.join(REPO, 'tools', 'make_synthetic_scenes.py'))
    writer['write_scenes'](str(root), num_images=NUM_IMAGES, seed=SEED)
    return str(root)


DEMO_CLASSES = ['grass', 'water', 'sand', 'rock', 'circle', 'square', 'triangle']
IMAGE_KINDS = ('rgb', 'rgba')  # grey, palette, 16-bit...: tests/test_image_io.py


def _demo_images(folder, scenes):
    """A held-out scene as an RGB PNG and an RGBA PNG (opaque); its label map."""
    with Image.open(osp.join(scenes, 'img_dir', 'val', '000000.png')) as image:
        rgb = np.array(image.convert('RGB'))
    with Image.open(osp.join(scenes, 'ann_dir', 'val', '000000.png')) as label:
        labels = np.array(label)
    paths = {kind: folder / f'{kind}.png' for kind in IMAGE_KINDS}
    Image.fromarray(rgb).save(paths['rgb'])
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], axis=2), mode='RGBA').save(paths['rgba'])
    return paths, labels


@pytest.fixture(scope='module')
def runs(tmp_path_factory, env, scenes):
    """Every tool run of this module, started together."""
    root = tmp_path_factory.mktemp('runs')
    launched = Launched(root, env)
    data = [CONFIG, '--data-root', scenes]
    launched.start('baseline', tool_argv('test.py', *data, '--work-dir', str(root / 'one'),
                                         '--show-dir', str(root / 'show')))
    # Two dist_test.sh runs at once, neither with PORT: one good, one whose processes stop on
    # a mistake that only the model build finds.
    dist = ['bash', 'tools/dist_test.sh', CONFIG, '2', '--data-root', scenes]
    launched.start('dist', [*dist, '--work-dir', str(root / 'two')])
    launched.start('dist_mistake', [*dist, '--work-dir', str(root / 'bad'),
                                    '--cfg-options', 'model.clip.pretrained=no_such_tag'])
    launched.start('dist_no_data', ['bash', 'tools/dist_test.sh', CONFIG, '2', '--data-root',
                                    str(root / 'nowhere')])
    # A mistake found by a hook of the running evaluation.
    launched.start('class_count_mismatch', tool_argv(
        'test.py', *data, '--work-dir', str(root / 'mismatch'), '--cfg-options',
        'model.decode_head.class_names=[cat,dog]'))
    images, labels = _demo_images(root, scenes)
    for kind in IMAGE_KINDS:
        launched.start(f'demo_{kind}', tool_argv(
            'demo.py', str(images[kind]), '--classes', ' , '.join(DEMO_CLASSES), '--config',
            CONFIG, '--out', str(root / f'out_{kind}.png')))
    launched.start('benchmark_images', tool_argv(
        'benchmark.py', CONFIG, '--input-size', '64', '128', '--repeats', '1', '--warmup', '0',
        '--compare-modes', 'clipseg', 'maskclip', '--compare-windows'))
    launched.start('benchmark_text', tool_argv('benchmark.py', CONFIG, '--text',
                                               '--text-classes', '2'))
    launched.root, launched.images, launched.labels = root, images, labels
    return launched


def test_test_py_gives_the_trained_models_accuracy(runs):
    result = runs['baseline']
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    printed = printed_metrics(result.stdout)
    assert json_results(runs.root / 'one') == [pytest.approx(printed, abs=1e-4)]
    assert printed['mIoU'] >= MIOU_FLOOR and printed['aAcc'] >= AACC_FLOOR, printed
    iou = class_iou(result.stdout)
    assert len(iou) == 7, result.stdout[-3000:]
    stuff = [iou[name] for name in STUFF]
    assert min(stuff) >= STUFF_FLOOR and np.mean(stuff) >= STUFF_MEAN_FLOOR, iou
    # Every image was evaluated (the loop reports its last iteration: 24 images, batch 8).
    assert '[3/3]' in result.stdout


def test_test_py_log_says_nothing_false_or_empty(runs):
    result = runs['baseline']
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'GPU number' not in result.stdout
    if not torch.cuda.is_available():
        assert 'Processes: 1 (CPU, no GPU)' in result.stdout
    for noise in ('Hooks will be executed', 'PyTorch compiling details', 'SyncBN',
                  'nccl', 'prefix is not set'):
        assert noise not in result.stdout


def test_test_py_show_dir_writes_one_png_per_image(runs, scenes):
    assert runs['baseline'].returncode == 0, runs['baseline'].stderr[-3000:]
    pngs = sorted(glob.glob(str(runs.root / 'show' / '**' / '*.png'), recursive=True))
    assert len(pngs) == NUM_IMAGES, pngs
    names = sorted(osp.splitext(name)[0] for name in
                   os.listdir(osp.join(scenes, 'img_dir', 'val')))
    for name, png in zip(names, pngs):
        assert name in osp.basename(png)
        with Image.open(png) as image:
            # Image, ground truth and prediction side by side, enlarged 4x (64 -> 256
            # pixels) under their titles, and a legend on the right.
            assert image.height > 256 and image.width > 3 * 256


@pytest.mark.slow
def test_two_processes_give_the_same_metrics_as_one(runs):
    one, two = runs['baseline'], runs['dist']
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-3000:]
    assert json_results(runs.root / 'two') == json_results(runs.root / 'one')
    assert printed_metrics(two.stdout) == printed_metrics(one.stdout)
    assert class_iou(two.stdout) == class_iou(one.stdout)
    if not torch.cuda.is_available():
        assert 'Processes: 2 (CPU, no GPU)' in two.stdout


@pytest.mark.slow
def test_a_mistake_inside_the_processes_is_one_line(runs):
    result = runs['dist_mistake']
    assert_clean_error(result, 'no_such_tag')
    assert 'ChildFailedError' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1, result.stderr  # said once, not once per process


def test_dist_test_checks_the_inputs_before_starting_processes(runs):
    result = runs['dist_no_data']
    assert_clean_error(result, str(runs.root / 'nowhere'), '--data-root')
    assert 'torch.distributed' not in result.stderr and 'Processes:' not in result.stdout


@pytest.mark.parametrize('nproc', ['0', '-2', 'two', '1.5', ''])
def test_dist_test_refuses_a_bad_process_count(env, nproc):
    result = run(['bash', 'tools/dist_test.sh', CONFIG, nproc], env)
    assert result.returncode == 2
    assert result.stderr.startswith('error: NPROC must be a whole number'), result.stderr
    assert 'usage: bash tools/dist_test.sh' in result.stderr


def test_class_names_that_do_not_match_the_dataset_are_refused(runs):
    assert_clean_error(runs['class_count_mismatch'], 'The head has 2 classes',
                       'the test dataset has 7')


@pytest.mark.parametrize('kind', IMAGE_KINDS)
def test_demo_segments_any_image(runs, kind):
    result, out = runs[f'demo_{kind}'], runs.root / f'out_{kind}.png'
    with Image.open(runs.images[kind]) as image:
        assert image.mode == {'rgb': 'RGB', 'rgba': 'RGBA'}[kind]
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
    names = [fields[0] for fields in class_lines]
    assert len(set(names)) == len(names) and set(names) <= set(DEMO_CLASSES)
    shares = [float(fields[1].rstrip('%')) for fields in class_lines]
    assert all(share > 0 for share in shares)
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) == pytest.approx(100.0, abs=0.1 * len(shares))
    # The scene's largest region is found: the model's class, not an arbitrary one.
    assert names[0] == DEMO_CLASSES[np.bincount(runs.labels.ravel()).argmax()], class_lines


def test_benchmark_compares_variants_and_the_text_side(runs):
    """tools/benchmark.py on the shipped tiny CLIP: one row per variant, ratios to the first,
    and the text-side report (cut vs all positions, cache)."""
    images = runs['benchmark_images']
    assert images.returncode == 0, images.stderr[-3000:]
    rows = [line.split() for line in images.stdout.splitlines()
            if line.startswith(('clipseg', 'maskclip'))]
    assert [row[:2] for row in rows] == [['clipseg', 'batched'], ['clipseg', 'per-crop'],
                                        ['maskclip', 'batched'], ['maskclip', 'per-crop']]
    assert float(rows[0][-1]) == 1.0 and all(float(row[2]) > 0 for row in rows)
    assert float(rows[2][5]) == 0.0 and float(rows[0][5]) > 0  # maskclip has no CRA time
    text = runs['benchmark_text']
    assert text.returncode == 0, text.stderr[-3000:]
    assert 'speed-up from cutting' in text.stdout and 'from the disk cache' in text.stdout


@pytest.mark.parametrize('python', ['without_the_package', 'no-such-python'])
def test_dist_test_without_the_package_says_to_activate_the_environment(env, tmp_path,
                                                                         python):
    """A shell whose python cannot import the package (the environment not activated): one
    line saying so, no ModuleNotFoundError traceback."""
    if python == 'without_the_package':  # this interpreter without site-packages/PYTHONPATH
        python = tmp_path / 'python'
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')
        python.chmod(0o755)
    result = run(['bash', 'tools/dist_test.sh', CONFIG, '2'], dict(env, PYTHON=str(python)))
    assert result.returncode == 1
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr, result.stderr
    assert result.stderr.startswith('error: '), result.stderr
    assert 'source .venv/bin/activate' in result.stderr

"""Bad or unusual inputs of issue 17 (second round): each gives one ``error:`` line, or the
right answer. In-process where the tool's checks come before any model is built."""
import errno
import importlib.metadata
import os
import os.path as osp
import runpy
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmseg_clipseg.utils.environment import environment_variable
from mmseg_clipseg.utils.atomic_write import write_atomically
from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.utils.errors import UserInputError

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / 'configs' / 'clipseg_tiny_synthetic.py')


def tool(name):
    return runpy.run_path(str(REPO / 'tools' / f'{name}.py'))


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv('MMSEG_CLIPSEG_DEBUG', raising=False)


def assert_one_line_error(main, argv, capsys, *phrases):
    status = run_cli(main, argv)
    err = capsys.readouterr().err
    assert status == 1, err
    assert err.startswith('error: ') and 'Traceback' not in err, err
    for phrase in phrases:
        assert phrase in err, (phrase, err)


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp('scenes') / 'scenes'
    tool('make_synthetic_scenes')['write_scenes'](str(root), num_images=3, seed=1)
    return root


# --- benchmark.py: every argument checked before the model is built ---------------------

@pytest.mark.parametrize('argv, phrase', [
    (['--repeats', '0'], '--repeats must be a positive integer'),
    (['--batch-size', '0'], '--batch-size must be a positive integer'),
    (['--input-size', '0', '0'], '--input-size must be a positive integer'),
    (['--input-size', '448', '-1'], '--input-size must be a positive integer'),
    (['--threads', '-1'], '--threads must be a positive integer'),
    (['--warmup', '-1'], '--warmup must be an integer >= 0'),
    (['--run-images', '-3'], '--run-images must be an integer >= 0'),
    (['--text', '--text-classes', '-5'], '--text-classes must be a positive integer'),
    (['--text', '--text-classes', '0'], '--text-classes must be a positive integer'),
    (['--text-classes', '3'], 'add --text'),
    (['--text', '--compare-modes', 'maskclip'], '--compare-modes compares image variants'),
    (['--device', 'gpu0'], "--device 'gpu0' is not a device"),
    (['--cfg-options', 'model.backbone'], 'KEY=VALUE pairs'),
])
def test_benchmark_arguments(argv, phrase, capsys):
    assert_one_line_error(tool('benchmark')['main'], [TINY, *argv], capsys, phrase)


def test_benchmark_cuda_without_a_gpu(capsys, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert_one_line_error(tool('benchmark')['main'], [TINY, '--device', 'cuda'], capsys,
                          'sees no CUDA GPU', '--device cpu')


def test_benchmark_more_text_classes_than_the_config_has(capsys):
    assert_one_line_error(tool('benchmark')['main'],
                          [TINY, '--text', '--text-classes', '99', '--device', 'cpu'], capsys,
                          '--text-classes 99: the config has 7 classes')


@pytest.mark.parametrize('before', [None, '/my/cache'])
def test_benchmark_cache_variable_is_restored(monkeypatch, before):
    if before is None:
        monkeypatch.delenv('MMSEG_CLIPSEG_CACHE', raising=False)
    else:
        monkeypatch.setenv('MMSEG_CLIPSEG_CACHE', before)
    with environment_variable('MMSEG_CLIPSEG_CACHE', '/tmp/x'):
        assert os.environ['MMSEG_CLIPSEG_CACHE'] == '/tmp/x'
    assert os.environ.get('MMSEG_CLIPSEG_CACHE') == before


# --- ablate.py --------------------------------------------------------------------------

def test_ablate_work_dir_that_is_a_file(tmp_path, capsys):
    mine = tmp_path / 'notes.txt'
    mine.write_text('mine')
    assert_one_line_error(tool('ablate')['main'], [TINY, '--work-dir', str(mine)], capsys,
                          'is a file')
    assert mine.read_text() == 'mine'


@pytest.mark.parametrize('mode', ['maskclip', 'naclip'])
def test_ablate_refuses_another_dense_mode(scenes, capsys, mode):
    """It would run clipseg and label the row 'clipseg (config)'."""
    assert_one_line_error(
        tool('ablate')['main'],
        [TINY, '--data-root', str(scenes), '--cfg-options', f'model.backbone.dense_mode={mode}'],
        capsys, f"dense_mode is '{mode}'", 'compare_dense_modes.py')


# --- tools/test.py ----------------------------------------------------------------------

@pytest.mark.parametrize('launcher, variable', [
    ('pytorch', 'RANK'), ('slurm', 'SLURM_PROCID'), ('mpi', 'OMPI_COMM_WORLD_RANK')])
def test_launcher_outside_its_launcher(monkeypatch, capsys, scenes, launcher, variable):
    for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'SLURM_PROCID',
                 'OMPI_COMM_WORLD_RANK'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('MASTER_PORT', '')  # set but empty counts as unset
    assert_one_line_error(tool('test')['main'],
                          [TINY, '--data-root', str(scenes), '--launcher', launcher], capsys,
                          f'--launcher {launcher}', variable, 'tools/dist_test.sh')


def damaged_copy(scenes, tmp_path, damage):
    root = tmp_path / 'damaged'
    subprocess.run(['cp', '-r', str(scenes), str(root)], check=True)
    path = root / 'ann_dir' / 'val' / '000001.png'
    damage(path)
    return root, path


def truncate(path):
    path.write_bytes(path.read_bytes()[:120])


def colour(path):
    labels = np.asarray(Image.open(path))
    Image.fromarray(np.stack([labels] * 3, axis=-1)).save(path)


@pytest.mark.parametrize('damage, phrases', [
    (truncate, ['not images that can be read', '000001.png', 'truncated']),
    (colour, ['label maps have several channels', '000001.png has 3']),
])
def test_check_finds_damaged_labels(tmp_path, capsys, scenes, damage, phrases):
    root, path = damaged_copy(scenes, tmp_path, damage)
    assert_one_line_error(tool('test')['main'],
                          [TINY, '--data-root', str(root), '--check',
                           '--work-dir', str(tmp_path / 'work')], capsys, *phrases)


@pytest.mark.parametrize('options, phrase', [
    (['model.backbone.dense_mode=bogus'], "dense_mode must be one of"),
    (['model.backbone.cra.layers=[99]'], 'cra.layers'),
    (['model.decode_head.bg_threshold=0.5'], 'bg_threshold is gone'),
])
def test_check_checks_model_settings(tmp_path, capsys, scenes, options, phrase):
    assert_one_line_error(tool('test')['main'],
                          [TINY, '--data-root', str(scenes), '--check', '--work-dir',
                           str(tmp_path / 'work'), '--cfg-options', *options], capsys, phrase)


# --- demo.py / infer.py -----------------------------------------------------------------

@pytest.mark.parametrize('name, flag', [('demo', '--config'), ('infer', '--model')])
def test_config_without_a_model(tmp_path, scenes, capsys, name, flag):
    image = str(next((scenes / 'img_dir' / 'val').iterdir()))
    out = ['--out', str(tmp_path / 'o.png')] if name == 'demo' else \
        ['--out-dir', str(tmp_path / 'out')]
    assert_one_line_error(tool(name)['main'],
                          [image, '--classes', 'grass, water', flag,
                           str(REPO / 'configs' / '_base_' / 'datasets' / 'synthetic.py'),
                           *out], capsys, 'defines no model')


# --- Names files, environment variables, writing ----------------------------------------

def test_names_file_inline_comments(tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text('# my classes\ngrass  # lawns too\nwater, lake\t# and rivers\nc#\n')
    assert load_class_names(str(names)) == [('grass',), ('water', 'lake'), ('c#',)]


@pytest.mark.parametrize('variable, value, expected', [
    ('MMSEG_CLIPSEG_CACHE', '', '{xdg}/mmseg_clipseg'),
    ('MMSEG_CLIPSEG_CACHE', '  ', '{xdg}/mmseg_clipseg'),
    ('MMSEG_CLIPSEG_CACHE', '~/embeddings', '{home}/embeddings'),
    ('XDG_CACHE_HOME', '', '{home}/.cache/mmseg_clipseg'),
    ('XDG_CACHE_HOME', '~/c', '{home}/c/mmseg_clipseg'),
])
def test_cache_folder_variables(monkeypatch, tmp_path, variable, value, expected):
    from mmseg_clipseg.clip.text_cache import cache_dir
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    monkeypatch.delenv('MMSEG_CLIPSEG_CACHE', raising=False)
    monkeypatch.setenv(variable, value)
    folder = expected.format(home=tmp_path / 'home', xdg=tmp_path / 'xdg')
    assert cache_dir() == Path(folder) / 'text_embeddings'


@pytest.mark.parametrize('error, free, phrase', [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), 1, 'No space left on device'),
    (OSError('16384 requested and 10176 written'), 0, 'No space left on device'),
    (OSError('16384 requested and 10176 written'), 5, '16384 requested'),
    (OSError(errno.EROFS, os.strerror(errno.EROFS)), 1, 'Read-only file system'),
])
def test_write_failures_name_the_file_and_the_reason(tmp_path, monkeypatch, error, free,
                                                     phrase):
    monkeypatch.setattr(os, 'statvfs', lambda path: type('S', (), {'f_bavail': free})())

    def write(path):
        Path(path).write_bytes(b'part')
        raise error

    target = tmp_path / 'out' / 'a.png'
    with pytest.raises(UserInputError, match=phrase) as raised:
        write_atomically(str(target), write)
    assert str(target) in str(raised.value) and '\n' not in str(raised.value)
    assert list(target.parent.iterdir()) == []  # no partial file left


def test_folder_that_cannot_be_made(tmp_path, monkeypatch):
    def read_only(path, exist_ok=False):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(os, 'makedirs', read_only)
    with pytest.raises(UserInputError, match='Read-only file system'):
        write_atomically(str(tmp_path / 'x' / 'a.png'), lambda path: None)


# --- dist_test.sh -----------------------------------------------------------------------

def test_dist_test_port_in_use():
    with socket.socket() as busy:
        busy.bind(('', 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, PORT=str(port), PYTHON=sys.executable)
        result = subprocess.run(['bash', 'tools/dist_test.sh', TINY, '1'], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f'error: port {port} is in use'), result.stderr
    assert 'Traceback' not in result.stderr and 'EADDRINUSE' not in result.stderr


# --- --help answers without importing torch ---------------------------------------------

# Run as ``python tools/X.py --help``; prints whether torch was imported when --help ended.
HELP_PROBE = '''
import runpy, sys
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
finally:
    print('torch imported:', 'torch' in sys.modules, file=sys.stderr)
'''
# Every tool (the console entry points run the same code as demo.py, infer.py and app.py).
HELP_TOOLS = sorted(str(path.relative_to(REPO / 'tools'))
                    for path in (REPO / 'tools').rglob('*.py'))


@pytest.mark.parametrize('name', HELP_TOOLS)
def test_help_does_not_import_torch(name):
    result = subprocess.run([sys.executable, '-c', HELP_PROBE, f'tools/{name}'], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: '), result.stdout
    assert 'torch imported: False' in result.stderr, result.stderr


def test_console_commands_answer_help_at_once():
    """The wheel's commands (setup.py's console_scripts) exist and print their help."""
    commands = [entry for entry in importlib.metadata.entry_points(group='console_scripts')
                if entry.value.startswith('mmseg_clipseg')]
    assert sorted(entry.name for entry in commands) == [
        'mmseg-clipseg-app', 'mmseg-clipseg-demo', 'mmseg-clipseg-infer']
    for entry in commands:
        script = shutil.which(entry.name, path=osp.dirname(sys.executable))
        assert script is not None, f'{entry.name} is not installed; pip install -e .'
        result = subprocess.run([script, '--help'], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.startswith('usage: '), result.stderr


# --- Files that break part-way through a run --------------------------------------------

def truncate_image(path):
    path.write_bytes(path.read_bytes()[:300])


@pytest.mark.parametrize('workers', [0, 2])
def test_run_names_an_image_that_fails_to_decode(tmp_path, capsys, scenes, workers):
    """The header passes the checks before the run; the pixels fail in a loader (worker)."""
    root = tmp_path / 'damaged'
    subprocess.run(['cp', '-r', str(scenes), str(root)], check=True)
    truncate_image(root / 'img_dir' / 'val' / '000001.png')
    assert_one_line_error(tool('test')['main'],
                          [TINY, '--data-root', str(root), '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', f'test_dataloader.num_workers={workers}'], capsys,
                          f'Test image {root}/img_dir/val/000001.png cannot be read')


@pytest.mark.parametrize('damage, phrase', [
    (truncate, 'Test label map {path} cannot be read'),
    (colour, 'Label map {path} has 3 channels'),
])
def test_label_loader_names_the_file(tmp_path, scenes, damage, phrase):
    import mmseg_clipseg  # noqa: F401  (registers the transform)
    from mmseg.registry import TRANSFORMS
    root, path = damaged_copy(scenes, tmp_path, damage)
    loader = TRANSFORMS.build(dict(type='NameUnreadableFiles',
                                   loader=dict(type='LoadAnnotations')))
    results = dict(seg_map_path=str(path), seg_fields=[], reduce_zero_label=False)
    with pytest.raises(UserInputError, match=phrase.format(path=path)):
        loader(results)


# --- Values that look valid -------------------------------------------------------------

@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_weights_with_non_finite_numbers(tmp_path, value):
    import torch

    from mmseg_clipseg.clip.loader import load_clip
    state = load_clip(dict(model_name='clipseg-test-tiny', pretrained=None)).state_dict()
    state['visual.proj'][0, 0] = value
    path = tmp_path / 'diverged.pt'
    torch.save(state, path)
    with pytest.raises(UserInputError, match=r'hold NaN or infinite numbers \(visual.proj\)'):
        load_clip(dict(model_name='clipseg-test-tiny', pretrained=str(path)))


@pytest.mark.parametrize('shape, expected', [
    ((3, 4, 3), None),  # channels first or last: refused
    ((1, 2, 2), None),
    ((3, 8, 6), (8, 6, 3)),  # (C, H, W)
    ((8, 6, 3), (8, 6, 3)),  # (H, W, C)
    ((1, 8, 6), (8, 6, 3)),
])
def test_tensor_layouts(shape, expected):
    import torch

    from mmseg_clipseg.apis.image_io import to_rgb_array
    tensor = torch.zeros(shape, dtype=torch.uint8)
    if expected is None:
        with pytest.raises(UserInputError, match='could be first or last'):
            to_rgb_array(tensor)
    else:
        assert to_rgb_array(tensor).shape == expected


def test_check_compares_the_head_classes_with_the_dataset(tmp_path, capsys, scenes):
    """A vocabulary that contradicts the dataset is refused by --check, not at run time."""
    assert_one_line_error(tool('test')['main'],
                          [TINY, '--data-root', str(scenes), '--check', '--work-dir',
                           str(tmp_path / 'work'), '--cfg-options',
                           'model.decode_head.class_names=["grass","water"]'], capsys,
                          'The head has 2 classes but the test dataset has 7')


def test_infer_out_dir_on_a_read_only_file_system(tmp_path, scenes, capsys, monkeypatch):
    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(os, 'makedirs', read_only)
    image = str(next((scenes / 'img_dir' / 'val').iterdir()))
    out = tmp_path / 'out'
    assert_one_line_error(tool('infer')['main'],
                          [image, '--classes', 'grass, water', '--model', 'tiny-synthetic',
                           '--out-dir', str(out), '--device', 'cpu'], capsys,
                          f"--out-dir '{out}' cannot be made: Read-only file system")


@pytest.mark.parametrize('argv, phrase', [
    (['--modes', 'clipseg', 'maskclp'], 'unknown dense mode(s) maskclp'),
    (['--cfg-options', 'model.backbone.dense_mode=sclip'], 'give the modes with --modes'),
    (['--json', '.'], "--json '.' is a folder"),
])
def test_compare_dense_modes_arguments(argv, phrase, capsys):
    assert_one_line_error(tool('compare_dense_modes')['main'], [TINY, *argv], capsys, phrase)

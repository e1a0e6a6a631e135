"""tools/infer.py, run as users run it (subprocesses), with the tiny synthetic model on 64x64
scenes: inputs of every kind, palette PNGs named after the images, resume, collisions, two
processes, and user mistakes."""
import glob
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmseg_clipseg.datasets.palette import palette_for
from mmseg_clipseg.datasets.synthetic_scenes import CLASSES, generate_scenes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODEL = ['--model', 'tiny-synthetic', '--classes', 'synthetic']
# The images of the `scenes` folder and the outputs they get from the folder, recursively.
LAYOUT = {'s0.png': 's0', 's1.jpg': 's1', 'sub/s2.png': 'sub/s2', 'sub/deeper/s3.png':
          'sub/deeper/s3'}


def infer(args, env, launcher=()):
    return subprocess.run([sys.executable, *launcher, 'tools/infer.py', *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def assert_ok(result):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def assert_clean_error(result, *phrases):
    """A user mistake: exit 1, one `error:` line naming the problem, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, result.stderr
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors[0])


def summary(result):
    lines = [line for line in result.stdout.splitlines() if line.startswith('labelled')]
    assert len(lines) == 1, result.stdout
    words = lines[0].split()
    return int(words[1]), int(words[4])  # labelled, skipped


def outputs(folder, extension='.png'):
    return sorted(osp.relpath(path, folder)[:-len(extension)].replace(os.sep, '/')
                  for path in glob.glob(osp.join(folder, '**', '*' + extension),
                                        recursive=True))


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    """Four 64x64 scenes in a folder tree, and a second folder with a clashing name."""
    root = tmp_path_factory.mktemp('scenes')
    for (name, _), scene in zip(LAYOUT.items(), generate_scenes(len(LAYOUT), seed=11)):
        path = root / 'scenes' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene.image).save(path, quality=95)
    (root / 'scenes' / 'notes.txt').write_text('not an image')
    (root / 'other').mkdir()
    Image.fromarray(generate_scenes(1, seed=12)[0].image).save(root / 'other' / 's0.png')
    return root


@pytest.fixture(scope='module')
def folder_run(scenes, env, tmp_path_factory):
    """The folder, recursively, with probabilities; then the same command again."""
    out = tmp_path_factory.mktemp('labels') / 'out'
    args = [str(scenes / 'scenes'), '--recursive', *MODEL, '--out-dir', str(out),
            '--probabilities']
    first = infer(args, env)
    stamps = {path: os.stat(path).st_mtime_ns for path in glob.glob(str(out / '**' / '*.*'),
                                                                       recursive=True)}
    second = infer(args, env)
    return out, args, first, second, stamps


def test_folder_gives_one_palette_png_per_image_at_its_size(folder_run):
    out, _, first, _, _ = folder_run
    assert_ok(first)
    assert summary(first) == (4, 0)
    assert outputs(out) == sorted(LAYOUT.values())
    palette = np.array(palette_for(CLASSES), dtype=np.uint8)  # as the demo, --show-dir
    for name in LAYOUT.values():
        with Image.open(out / f'{name}.png') as image:
            assert image.mode == 'P' and image.size == (64, 64)
            labels = np.asarray(image)
            colours = np.array(image.getpalette()[:3 * len(CLASSES)]).reshape(-1, 3)
        assert labels.max() < len(CLASSES)
        np.testing.assert_array_equal(colours, palette)
    settings = json.loads((out / 'infer_settings.json').read_text())
    assert settings['classes'] == list(CLASSES) and settings['model'] == 'tiny-synthetic'


def test_labels_and_probabilities_are_those_of_the_api(folder_run, scenes):
    from mmseg_clipseg.apis import init_segmentor, segment
    out, _, first, _, _ = folder_run
    assert_ok(first)
    segmentor = init_segmentor('tiny-synthetic', device='cpu')
    names = list(LAYOUT.values())
    results = segment(segmentor, [str(scenes / 'scenes' / path) for path in LAYOUT],
                      'synthetic', return_probabilities=True)
    for name, result in zip(names, results):
        with Image.open(out / f'{name}.png') as image:
            np.testing.assert_array_equal(np.asarray(image), result.labels)
        probabilities = np.load(out / f'{name}.npy')
        assert probabilities.dtype == np.float16 and probabilities.shape == (7, 64, 64)
        # float16 of the API's fp32 probabilities, up to a rounding step (thread counts
        # differ between the processes).
        np.testing.assert_allclose(probabilities, result.probabilities, rtol=2e-3, atol=1e-4)


def test_a_second_run_skips_what_is_done(folder_run):
    out, _, first, second, stamps = folder_run
    assert_ok(second)
    assert summary(second) == (0, 4)
    assert stamps and all(os.stat(path).st_mtime_ns == stamp for path, stamp in stamps.items())


def test_resume_completes_an_interrupted_run(folder_run, env):
    out, args, first, second, _ = folder_run
    assert_ok(second)
    # An interrupted run: s1 was being written (only its temporary file exists), sub/s2
    # has its labels but not yet its probabilities.
    (out / 's1.png').rename(out / '.s1.png.4242.partial')
    (out / 'sub' / 's2.npy').unlink()
    kept = os.stat(out / 's0.png').st_mtime_ns
    result = infer(args, env)
    assert_ok(result)
    assert summary(result) == (2, 2)
    assert outputs(out) == sorted(LAYOUT.values())
    assert outputs(out, '.npy') == sorted(LAYOUT.values())
    assert not glob.glob(str(out / '**' / '.*partial'), recursive=True)
    assert os.stat(out / 's0.png').st_mtime_ns == kept


def test_files_globs_and_list_files(scenes, env, tmp_path):
    listing = tmp_path / 'list.txt'
    listing.write_text(f'# images\n{scenes / "scenes" / "s1.jpg"}\n\n')
    second_list = tmp_path / 'more.txt'
    second_list.write_text(f'{scenes / "scenes" / "s0.png"}\n')  # also given as a file
    out = tmp_path / 'out'
    result = infer([str(scenes / 'scenes' / 's0.png'), str(scenes / 'scenes' / 'sub' / '**' /
                                                            '*.png'),
                    f'@{listing}', '--list', str(second_list), *MODEL, '--out-dir', str(out),
                    '--quiet'], env)
    assert_ok(result)
    assert result.stdout == ''
    # Files by their name; glob matches by their path below the glob's fixed part.
    assert outputs(out) == ['deeper/s3', 's0', 's1', 's2']
    assert outputs(out, '.npy') == []


def test_more_than_256_classes_give_a_16_bit_png(scenes, env, tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text(''.join(f'{CLASSES[index % 7]} {index}\n' for index in range(300)))
    out = tmp_path / 'out'
    result = infer([str(scenes / 'scenes' / 's0.png'), '--model', 'tiny-synthetic',
                    '--classes', str(names), '--out-dir', str(out), '--quiet'], env)
    assert_ok(result)
    with Image.open(out / 's0.png') as image:
        assert image.mode == 'I;16' and image.size == (64, 64)
        labels = np.asarray(image)
    assert labels.max() < 300


@pytest.mark.slow
def test_two_processes_share_the_images(scenes, env, tmp_path, folder_run):
    out = tmp_path / 'out'
    args = [str(scenes / 'scenes'), '-r', *MODEL, '--out-dir', str(out)]
    launcher = ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']
    result = infer(args, env, launcher)
    assert_ok(result)
    # Totals of both processes: each image labelled once, none lost.
    assert summary(result) == (4, 0)
    assert outputs(out) == sorted(LAYOUT.values())
    single = folder_run[0]
    for name in LAYOUT.values():
        with Image.open(out / f'{name}.png') as two, Image.open(single / f'{name}.png') as one:
            np.testing.assert_array_equal(np.asarray(two), np.asarray(one))
    again = infer(args, env, launcher)
    assert_ok(again)
    assert summary(again) == (0, 4)


@pytest.fixture(scope='module')
def tool():
    """tools/infer.py as a module, to run its `main` in this process."""
    spec = importlib.util.spec_from_file_location('infer_tool', osp.join(REPO, 'tools',
                                                                         'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def mistakes_root(scenes, tmp_path_factory):
    root = tmp_path_factory.mktemp('mistakes')
    (root / 'empty').mkdir()
    (root / 'foreign').mkdir()
    Image.new('L', (4, 4)).save(root / 'foreign' / 's0.png')
    (root / 'broken.png').write_bytes(b'not a png')
    (root / 'other_settings').mkdir()
    (root / 'other_settings' / 'infer_settings.json').write_text(json.dumps(
        dict(model='tiny-synthetic', cfg_options={}, classes=['grass', 'water'],
             templates=None, background=None, background_names=None)))
    return root


MISTAKES = {
    'missing': (['{root}/nope.png', *MODEL, '--out-dir', '{root}/o1'],
                ['nope.png', 'does not exist']),
    'missing_list': (['@{root}/nope.txt', *MODEL, '--out-dir', '{root}/o2'],
                     ['nope.txt', 'does not exist']),
    'empty_folder': (['{root}/empty', *MODEL, '--out-dir', '{root}/o3'],
                     ['empty', 'holds no images']),
    'no_match': (['{root}/*.jpeg', *MODEL, '--out-dir', '{root}/o4'],
                 ['*.jpeg', 'matches no image']),
    'not_an_image': (['{root}/broken.png', *MODEL, '--out-dir', '{root}/o5'],
                     ['broken.png', 'cannot be read as images']),
    'collision': (['{images}/s0.png', '{images}/../other/s0.png', *MODEL, '--out-dir',
                   '{root}/o6'], ['s0.png', 'other', 'would both be written']),
    'onto_input': (['{images}/s0.png', *MODEL, '--out-dir', '{images}'],
                   ['is the input image']),
    'foreign_outputs': (['{images}/s0.png', *MODEL, '--out-dir', '{root}/foreign'],
                        ['s0.png', '--overwrite']),
    'other_settings': (['{images}/s0.png', *MODEL, '--out-dir', '{root}/other_settings'],
                       ['other settings', 'classes', '--overwrite']),
    'classes_file': (['{images}/s0.png', '--model', 'tiny-synthetic', '--classes',
                      '/missing/names.txt', '--out-dir', '{root}/o7'],
                     ['/missing/names.txt', 'no such file']),
    'one_class': (['{images}/s0.png', '--model', 'tiny-synthetic', '--classes', 'grass',
                   '--out-dir', '{root}/o7'], ['single class']),
    'unknown_model': (['{images}/s0.png', '--model', 'vitz', '--classes', 'a, b',
                       '--out-dir', '{root}/o8'], ['vitz', 'tiny-synthetic']),
    'cfg_option': (['{images}/s0.png', *MODEL, '--out-dir', '{root}/o9', '--cfg-options',
                    'backbone.dense_mod=maskclip'], ['dense_mod', 'dense_mode']),
    'background_names': (['{images}/s0.png', *MODEL, '--out-dir', '{root}/o9',
                          '--background-names', 'sand'], ['--background text']),
}


@pytest.mark.parametrize('key', MISTAKES)
def test_mistakes_give_one_error_line(key, tool, mistakes_root, scenes, capsys,
                                      monkeypatch):
    monkeypatch.delenv('MMSEG_CLIPSEG_DEBUG', raising=False)
    args, phrases = MISTAKES[key]
    args = [arg.format(root=mistakes_root, images=scenes / 'scenes') for arg in args]
    status = tool.run(args)
    captured = capsys.readouterr()
    assert_clean_error(subprocess.CompletedProcess(args, status, captured.out,
                                                   captured.err), *phrases)
    assert not glob.glob(str(mistakes_root / 'o*' / '*.png'))


def test_a_mistake_in_a_process_is_one_line(mistakes_root, env):
    result = infer([str(mistakes_root / 'nope.png'), *MODEL, '--out-dir',
                    str(mistakes_root / 'o1')], env)
    assert_clean_error(result, 'nope.png', 'does not exist')
    assert not (mistakes_root / 'o1').exists()


def test_mistakes_leave_files_alone(tool, mistakes_root, scenes, capsys):
    for key in ('foreign_outputs', 'other_settings', 'onto_input'):
        args = [arg.format(root=mistakes_root, images=scenes / 'scenes')
                for arg in MISTAKES[key][0]]
        assert tool.run(args) == 1
    with Image.open(mistakes_root / 'foreign' / 's0.png') as image:
        assert image.size == (4, 4)
    assert json.loads((mistakes_root / 'other_settings' / 'infer_settings.json').read_text())[
        'classes'] == ['grass', 'water']
    assert sorted(os.listdir(scenes / 'scenes')) == ['notes.txt', 's0.png', 's1.jpg', 'sub']


def test_overwrite_redoes_every_image(mistakes_root, scenes, env):
    root = mistakes_root
    result = infer([str(scenes / 'scenes' / 's0.png'), *MODEL, '--out-dir',
                    str(root / 'other_settings'), '--overwrite'], env)
    assert_ok(result)
    assert summary(result) == (1, 0)
    settings = json.loads((root / 'other_settings' / 'infer_settings.json').read_text())
    assert settings['classes'] == list(CLASSES)

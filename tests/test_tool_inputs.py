"""Bad inputs to the tools, run in-process where a subprocess would only add start-up time:
each class of mistake gives one ``error:`` line and exit status 1, and no user file is
written over."""
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.apis.work_dirs import work_dir_lock

REPO = Path(__file__).resolve().parents[1]


def tool(name):
    """The namespace of tools/<name>.py (its functions, not run as a script)."""
    return runpy.run_path(str(REPO / 'tools' / f'{name}.py'))


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv('MMSEG_CLIPSEG_DEBUG', raising=False)


@pytest.fixture(scope='module')
def scenes_tool():
    return tool('make_synthetic_scenes')


def run_main(main, argv, capsys):
    """(exit status, stdout, stderr) of ``run_cli(main, argv)``."""
    status = run_cli(main, argv)
    out, err = capsys.readouterr()
    return status, out, err


def assert_error(result, *phrases):
    status, _, err = result
    assert status == 1, err
    assert err.startswith('error: '), err
    for phrase in phrases:
        assert phrase in err, (phrase, err)


def snapshot(folder: Path):
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob('*')) if path.is_file()}


# --- make_synthetic_scenes / make_synthetic_voc: the output folder -----------------------

def test_scenes_refuse_a_folder_of_the_users(tmp_path, scenes_tool, capsys):
    """A non-empty folder the tool did not write: refused, --overwrite or not, untouched."""
    folder = tmp_path / 'mine'
    (folder / 'img_dir' / 'val').mkdir(parents=True)
    (folder / 'img_dir' / 'val' / '000000.png').write_bytes(b'my own picture')
    before = snapshot(folder)
    for extra in ([], ['--overwrite']):
        assert_error(run_main(scenes_tool['main'], [str(folder), '--num-images', '1', *extra],
                              capsys), 'not empty', 'not written by make_synthetic_scenes')
        assert snapshot(folder) == before


def test_scenes_rerun_and_overwrite_only_their_own_folder(tmp_path, scenes_tool, capsys):
    folder = tmp_path / 'scenes'
    main = scenes_tool['main']
    assert run_main(main, [str(folder), '--num-images', '2'], capsys)[0] == 0
    first = snapshot(folder)
    assert json.loads(first['.make_synthetic_scenes.json']) == dict(
        tool='make_synthetic_scenes', num_images=2, seed=1, size=64)
    # The same settings again: the same dataset, nothing mixed in.
    assert run_main(main, [str(folder), '--num-images', '2'], capsys)[0] == 0
    assert snapshot(folder) == first
    # Other settings: refused without --overwrite, then replaced (no stale image left).
    assert_error(run_main(main, [str(folder), '--num-images', '1', '--seed', '3'], capsys),
                 '--num-images 2 --seed 1', '--overwrite')
    assert snapshot(folder) == first
    assert run_main(main, [str(folder), '--num-images', '1', '--seed', '3', '--overwrite'],
                    capsys)[0] == 0
    assert sorted(p.name for p in (folder / 'img_dir' / 'val').iterdir()) == ['000000.png']
    # A file of the user's inside it: --overwrite refuses rather than delete around it.
    (folder / 'notes.txt').write_text('mine')
    before = snapshot(folder)
    assert_error(run_main(main, [str(folder), '--num-images', '2', '--overwrite'], capsys),
                 'notes.txt', 'did not write')
    assert snapshot(folder) == before


@pytest.mark.parametrize('argv, phrase', [
    (['--num-images', '0'], '--num-images must be at least 1'),
    (['--num-images', '-3'], '--num-images must be at least 1'),
    (['--seed', '0'], 'Seed 0 is the stream the tiny CLIP was trained on'),
    (['--seed', '-1'], '--seed must be at least 1'),
    (['--size', '8'], '--size must be in 36..1024'),
    (['--size', '100000'], '--size must be in 36..1024'),
])
def test_scenes_settings_are_checked_before_writing(tmp_path, scenes_tool, capsys, argv,
                                                    phrase):
    assert_error(run_main(scenes_tool['main'], [str(tmp_path / 'out'), *argv], capsys), phrase)
    assert not (tmp_path / 'out').exists()


def test_scenes_output_is_a_file(tmp_path, scenes_tool, capsys):
    (tmp_path / 'out').write_text('mine')
    assert_error(run_main(scenes_tool['main'], [str(tmp_path / 'out')], capsys),
                 'is a file, not a folder')
    assert (tmp_path / 'out').read_text() == 'mine'


def test_scenes_non_integer_seed_is_a_usage_error(tmp_path, scenes_tool, capsys):
    with pytest.raises(SystemExit) as exit_:
        scenes_tool['main']([str(tmp_path / 'out'), '--seed', '1.5'])
    assert exit_.value.code == 2
    assert "invalid int value: '1.5'" in capsys.readouterr().err


@pytest.mark.parametrize('name, listed', [('make_synthetic_scenes', 'captions.txt'),
                                           ('make_synthetic_voc', 'ImageSets')])
def test_synthetic_writers_rerun_and_report_a_failed_write(tmp_path, capsys, monkeypatch,
                                                           name, listed):
    """Both writers (apis.synthetic_datasets): the same settings again write the same files
    (the layout names every file it writes), and a failed write is one line."""
    main, folder = tool(name)['main'], tmp_path / 'out'
    assert run_main(main, [str(folder), '--num-images', '2'], capsys)[0] == 0
    first = snapshot(folder)
    assert any(path.startswith(listed) for path in first)
    assert run_main(main, [str(folder), '--num-images', '2'], capsys)[0] == 0
    assert snapshot(folder) == first

    def disk_full(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr('PIL.Image.Image.save', disk_full)
    status, _, err = run_main(main, [str(tmp_path / 'other'), '--num-images', '1'], capsys)
    assert status == 1 and 'Traceback' not in err, err
    assert err.splitlines()[-1] == (f"error: Could not write to '{tmp_path / 'other'}': No "
                                    'space left on device.')


def test_voc_writer_never_writes_into_a_real_voc_folder(tmp_path):
    """The VOC writer shares the rules (mmseg_clipseg.apis.output_folders); run as a user runs it."""
    voc = tmp_path / 'VOC2012'
    (voc / 'JPEGImages').mkdir(parents=True)
    (voc / 'JPEGImages' / '2007_000000.jpg').write_bytes(b'a real VOC image')
    before = snapshot(voc)
    result = subprocess.run([sys.executable, str(REPO / 'tools' / 'make_synthetic_voc.py'),
                             str(voc), '--num-images', '1', '--overwrite'],
                            capture_output=True, text=True, cwd=REPO,
                            env=dict(os.environ, MMSEG_CLIPSEG_DEBUG=''))
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr
    assert result.stderr.startswith('error: ') and 'not written by make_synthetic_voc' in \
        result.stderr
    assert snapshot(voc) == before


# --- results_table ------------------------------------------------------------------------

@pytest.fixture(scope='module')
def table_tool():
    return tool('results_table')


def write_run(work_dir: Path, stamp: str, content) -> Path:
    """A tools/test.py result as mmengine writes it: <work dir>/<time>/<time>.json."""
    path = work_dir / stamp / f'{stamp}.json'
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize('content, phrase', [
    ('{"aAcc": 80.1, "mIoU": 5', 'is not valid JSON'),
    ('', 'is empty'),
    (b'\xff\xfe\x00garbage', 'is not a text file'),
    ('{"aAcc": 80.1}', 'has no mIoU'),
    ('[1, 2]', 'has no mIoU'),
    ('{"mIoU": "high"}', 'a percentage in 0..100'),
    ('{"mIoU": NaN}', 'a percentage in 0..100'),
    ('{"mIoU": 123.0}', 'a percentage in 0..100'),
])
def test_results_table_bad_result_files(tmp_path, table_tool, capsys, content, phrase):
    work_dir = tmp_path / 'clipseg_vitb_voc20'
    result = write_run(work_dir, '20250101_000000', content)
    for path in (work_dir, result):  # through its work dir and given directly
        assert_error(run_main(table_tool['main'], [str(path)], capsys), phrase)


def test_results_table_reads_mmengine_json_lines(tmp_path, table_tool, capsys):
    work_dir = tmp_path / 'clipseg_vitb_voc20'
    write_run(work_dir, '20250101_000000', '{"data_time": 0.1}\n{"mIoU": 61.5, "aAcc": 9}\n')
    status, out, err = run_main(table_tool['main'], [str(work_dir)], capsys)
    assert status == 0, err
    assert out.splitlines()[-1] == '| clipseg_vitb | 61.5 | 61.5 |'


def _loose_result(root: Path) -> Path:
    """A result file moved out of its run folder: its run has no name."""
    return write_run(root / 'clipseg_vitb_voc20', 'a', '{"mIoU": 1}').rename(root / 'r.json')


def _unfinished_run(root: Path) -> Path:
    (root / 'clipseg_vitb_voc20' / '20250101_000000').mkdir(parents=True)
    return root / 'clipseg_vitb_voc20'


def _folder_without_benchmark(root: Path) -> Path:
    (root / 'my_runs').mkdir()
    return root / 'my_runs'


def _text_file(root: Path) -> Path:
    (root / 'notes.txt').write_text('x')
    return root / 'notes.txt'


@pytest.mark.parametrize('make, phrase', [
    (lambda root: root / 'nowhere_voc20', 'does not exist'),
    (lambda root: root / 'configs' / 'clipseg_vitb_voc2O.py', 'does not exist'),
    (_loose_result, 'give the work dir instead'),
    (_unfinished_run, 'holds no tools/test.py result'),
    (_folder_without_benchmark, "Run name 'my_runs'"),
    (_text_file, 'neither a config (.py), a work dir nor a result file'),
])
def test_results_table_wrong_paths(tmp_path, table_tool, capsys, make, phrase):
    assert_error(run_main(table_tool['main'], [str(make(tmp_path))], capsys), phrase)


def test_results_table_checks_every_path_before_evaluating(tmp_path, table_tool, capsys):
    """A config first and a mistake last: refused before the config's (long) evaluation."""
    work_root = tmp_path / 'work_dirs'
    argv = [str(REPO / 'configs' / 'clipseg_vitb_voc20.py'), str(tmp_path / 'typo_voc21'),
            '--work-dir-root', str(work_root)]
    assert_error(run_main(table_tool['main'], argv, capsys), 'typo_voc21', 'does not exist')
    assert not work_root.exists()
    voc20 = tmp_path / 'clipseg_vitb_voc20'
    result = write_run(voc20, '20250101_000000', '{"mIoU": 50.0}')
    assert_error(run_main(table_tool['main'], [str(voc20), str(result)], capsys),
                 'both results of clipseg_vitb_voc20')
    for precision in ('-1', '40'):
        assert_error(run_main(table_tool['main'], [str(voc20), '--precision', precision],
                              capsys), '--precision must be in 0..6')


# --- tools/test.py: everything it checks before building a model -------------------------

TINY = str(REPO / 'configs' / 'clipseg_tiny_synthetic.py')
VOC20 = str(REPO / 'configs' / 'clipseg_vitb_voc20.py')


@pytest.fixture(scope='module')
def test_tool():
    return tool('test')


@pytest.fixture
def scenes(tmp_path, scenes_tool):
    root = tmp_path / 'scenes'
    scenes_tool['write_scenes'](str(root), num_images=3, seed=1)
    return root


def voc_layout(root: Path, listed=('2007_000001', '2007_000002'), images=None, labels=None):
    """A VOC2012 folder (the checks read names, not pixels)."""
    for folder in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in listed if images is None else images:
        (root / 'JPEGImages' / f'{name}.jpg').write_bytes(b'jpg')
    for name in listed if labels is None else labels:
        (root / 'SegmentationClass' / f'{name}.png').write_bytes(b'png')
    (root / 'ImageSets/Segmentation/val.txt').write_text(''.join(f'{n}\n' for n in listed))
    return root


def check(test_tool, capsys, config, data_root, *options, work_dir=None):
    argv = [config, '--data-root', str(data_root), '--check', *options]
    if work_dir is not None:
        argv += ['--work-dir', str(work_dir)]
    return run_main(test_tool['main'], argv, capsys)


def test_check_passes_and_writes_nothing(tmp_path, test_tool, capsys, scenes):
    status, out, err = check(test_tool, capsys, TINY, scenes, work_dir=tmp_path / 'work')
    assert status == 0, err
    assert out.startswith('ok: ') and '3 test images' in out
    assert not (tmp_path / 'work').exists()


@pytest.mark.parametrize('options, phrase', [
    (['test_dataloader.batch_size=0'], 'test_dataloader.batch_size must be a positive integer'),
    (['test_dataloader.batch_size=-4'], 'test_dataloader.batch_size must be a positive'),
    (['test_dataloader.batch_size=abc'], "got 'abc'"),
    (['test_dataloader.batch_size=2.5'], 'got 2.5'),
    (['test_dataloader.num_workers=-1'], 'num_workers must be an integer >= 0'),
    (['test_dataloader.num_workers=two'], 'num_workers must be an integer >= 0'),
    (['test_dataloader.sampler.shuffle=yes'], 'shuffle must be True or False'),
    (['model.test_cfg.mode=sliding'], 'mode must be "slide" or "whole"'),
    (['model.test_cfg.mode=slide', 'model.test_cfg.crop_size=big'],
     'crop_size must be (height, width)'),
    (['model.test_cfg.mode=slide', 'model.test_cfg.stride=[32,0]'],
     'stride must be a positive integer'),
    (['model.test_cfg.mode=slide', 'model.test_cfg.stride=[96,96]'],
     'is larger than test_cfg.crop_size'),
    (['model.test_cfg.crop_batch_size=0'], 'crop_batch_size must be a positive integer'),
])
def test_settings_of_the_wrong_value_or_type(tmp_path, test_tool, capsys, scenes, options,
                                             phrase):
    result = check(test_tool, capsys, TINY, scenes, '--cfg-options', *options,
                   work_dir=tmp_path / 'work')
    assert_error(result, phrase)


def test_persistent_workers_without_workers(tmp_path, test_tool, capsys):
    """The benchmark configs keep their workers; num_workers=0 alone would fail in torch."""
    voc = voc_layout(tmp_path / 'voc')
    assert_error(check(test_tool, capsys, VOC20, voc, '--cfg-options',
                       'test_dataloader.num_workers=0'), 'persistent_workers=False')


def test_paths_of_the_wrong_kind(tmp_path, test_tool, capsys, scenes):
    a_file = tmp_path / 'a_file'
    a_file.write_text('x')
    status, _, err = run_main(test_tool['main'], [str(REPO / 'configs'), '--data-root',
                                                  str(scenes), '--check'], capsys)
    assert status == 1 and 'is a folder, not a file' in err and 'does not exist' not in err
    assert_error(check(test_tool, capsys, TINY, a_file), 'is a file, not a folder')
    assert_error(check(test_tool, capsys, TINY, tmp_path / 'scens'), 'does not exist',
                 '--data-root')
    assert_error(check(test_tool, capsys, TINY, scenes, work_dir=a_file),
                 '--work-dir', 'is a file, not a folder')
    assert_error(check(test_tool, capsys, TINY, scenes, work_dir=a_file / 'sub'),
                 'cannot be made', 'is a file, not a folder')
    assert_error(check(test_tool, capsys, TINY, scenes, '--show-dir', str(a_file),
                       work_dir=tmp_path / 'work'), '--show-dir', 'is a file, not a folder')


def test_an_image_folder_without_images(tmp_path, test_tool, capsys):
    root = tmp_path / 'data'
    (root / 'img_dir' / 'val').mkdir(parents=True)
    (root / 'ann_dir' / 'val').mkdir(parents=True)
    assert_error(check(test_tool, capsys, TINY, root), 'holds no images ending in',
                 'it is empty')
    for name in ('a.jpg', 'b.jpg'):
        (root / 'img_dir' / 'val' / name).write_bytes(b'jpg')
    assert_error(check(test_tool, capsys, TINY, root), "2 '.jpg' files",
                 "img_suffix='.jpg'")


def test_an_image_without_its_label(tmp_path, test_tool, capsys, scenes):
    (scenes / 'ann_dir' / 'val' / '000001.png').unlink()
    assert_error(check(test_tool, capsys, TINY, scenes), '1 of the 3 test images have no '
                 'label file', '000001.png')


def test_a_label_without_its_image(tmp_path, test_tool, capsys, scenes):
    (scenes / 'img_dir' / 'val' / '000002.png').unlink()
    assert_error(check(test_tool, capsys, TINY, scenes), '1 label files', 'have no image',
                 '000002.png', 'would skip them')


@pytest.mark.parametrize('make, phrase', [
    (lambda root: voc_layout(root, images=['2007_000001']), '1 of the 2 images listed in '
     "split file"),
    (lambda root: voc_layout(root, labels=['2007_000002']), 'have no label file'),
    (lambda root: voc_layout(root, listed=()), 'lists no images'),
])
def test_split_file_entries_without_files(tmp_path, test_tool, capsys, make, phrase):
    assert_error(check(test_tool, capsys, VOC20, make(tmp_path / 'voc')), phrase)


def test_split_file_mistakes(tmp_path, test_tool, capsys):
    voc = voc_layout(tmp_path / 'voc')
    split = voc / 'ImageSets/Segmentation/val.txt'
    split.write_text('2007_000001.jpg\n2007_000002.jpg\n')
    assert_error(check(test_tool, capsys, VOC20, voc), 'names without a suffix')
    split.write_text('2007_000001\n\n2007_000002\n')
    assert_error(check(test_tool, capsys, VOC20, voc), 'blank lines (line 2)')


def test_a_busy_work_dir_is_refused(tmp_path, test_tool, capsys, scenes):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    with work_dir_lock(str(work_dir)):
        assert_error(check(test_tool, capsys, TINY, scenes, work_dir=work_dir),
                     f'(process {os.getpid()}) is using work dir', '--work-dir')
    assert check(test_tool, capsys, TINY, scenes, work_dir=work_dir)[0] == 0


def test_a_run_never_shares_the_result_folder_of_an_earlier_one(tmp_path):
    """mmengine names the folder by the second: a run starting in the second an earlier run
    ended waits for the next one."""
    import time
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    now = time.strftime('%Y%m%d_%H%M%S')
    (work_dir / now).mkdir()  # the earlier run's result folder
    with work_dir_lock(str(work_dir)):
        assert time.strftime('%Y%m%d_%H%M%S') != now


def test_damaged_images_and_labels_of_another_size(tmp_path, test_tool, capsys, scenes):
    """Both would stop the evaluation part-way (a decoder error, a shape mismatch)."""
    from PIL import Image
    label = scenes / 'ann_dir' / 'val' / '000002.png'
    Image.new('L', (32, 32)).save(label)
    assert_error(check(test_tool, capsys, TINY, scenes), '000002.png is 32x32 but its image '
                 '64x64')
    (scenes / 'img_dir' / 'val' / '000001.png').write_bytes(b'')
    assert_error(check(test_tool, capsys, TINY, scenes), 'not images that can be read',
                 '000001.png')

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

from mmseg_clipseg.cli import run_cli

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


def test_voc_writer_never_writes_into_a_real_voc_folder(tmp_path):
    """The VOC writer shares the rules; run as a user runs it (it imports its sibling)."""
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

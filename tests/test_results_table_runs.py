"""tools/results_table.py over many PATHs: everything checked before any evaluation, what is no
benchmark run skipped with a warning, and the run behind each row named."""
import json
import runpy
from pathlib import Path

import pytest

from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.apis.results_table import format_table

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def table():
    return runpy.run_path(str(REPO / 'tools' / 'results_table.py'))['main']


def write_run(work_dir: Path, stamp: str, miou=None) -> Path:
    """A tools/test.py run folder, with its result file when ``miou`` is given."""
    run = work_dir / stamp
    run.mkdir(parents=True)
    if miou is not None:
        (run / f'{stamp}.json').write_text(json.dumps({'aAcc': 90.0, 'mIoU': miou}))
    (run / f'{stamp}.log').write_text('')
    return run


def test_a_run_that_is_no_benchmark_is_skipped_with_a_warning(tmp_path, table, capsys):
    write_run(tmp_path / 'clipseg_tiny_synthetic', '20250101_000000', 51.3)
    write_run(tmp_path / 'clipseg_vitb_voc20', '20250101_000000', 80.0)
    write_run(tmp_path / 'clipseg_vitb_voc21', '20250101_000000', 60.0)
    assert run_cli(table, sorted(str(path) for path in tmp_path.iterdir())) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == '| clipseg_vitb | 60.0 | 80.0 | 70.0 |'
    assert err.startswith('warning: skipped: ') and 'clipseg_tiny_synthetic' in err
    assert err.count('\n') == 1


def test_a_crashed_newest_run_is_named_and_the_row_says_which_run(tmp_path, table, capsys):
    voc20 = tmp_path / 'clipseg_vitb_voc20'
    finished = write_run(voc20, '20250101_000000', 80.0)
    write_run(voc20, '20250102_000000')  # crashed: a log, no result
    assert run_cli(table, [str(voc20)]) == 0
    out, err = capsys.readouterr()
    assert '20250102_000000 left no result' in err and 'shows run 20250101_000000' in err
    assert out.splitlines()[0] == (f'clipseg_vitb_voc20  '
                                   f'{finished / "20250101_000000.json"}')
    assert out.splitlines()[-1] == '| clipseg_vitb | 80.0 | 80.0 |'


def test_work_dirs_without_results_leave_the_others(tmp_path, table, capsys):
    write_run(tmp_path / 'clipseg_vitb_voc21', '20250101_000000')
    write_run(tmp_path / 'clipseg_vitb_voc20', '20250101_000000', 80.0)
    assert run_cli(table, [str(tmp_path / 'clipseg_vitb_voc21'),
                           str(tmp_path / 'clipseg_vitb_voc20')]) == 0
    out, err = capsys.readouterr()
    assert 'clipseg_vitb_voc21' in err and 'holds no tools/test.py result' in err
    assert out.splitlines()[-1] == '| clipseg_vitb | 80.0 | 80.0 |'


def test_results_table_orders_columns_like_the_paper():
    table = format_table({
        'clipseg_vitl_voc20': 81.25,
        'clipseg_vitb_ade847': 5.0,
        'clipseg_vitb_voc20': 80.0,
        'clipseg_vitb_voc21': 60.04,
    })
    assert table == '\n'.join([
        '| Method | VOC21 | VOC20 | ADE847 | Avg |',
        '| --- | ---: | ---: | ---: | ---: |',
        '| clipseg_vitl | – | 81.2 | – | – |',
        '| clipseg_vitb | 60.0 | 80.0 | 5.0 | 70.0 |',
    ])


def test_results_table_averages_the_papers_eight_benchmarks():
    keys = ['voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff',
            'cityscapes', 'ade150', 'context459']
    results = {f'm_{key}': float(value) for value, key in enumerate(keys, start=1)}
    last_row = format_table(results, precision=2).splitlines()[-1]
    # Context459 (9.00) is shown but, as in the paper, not averaged: (1 + ... + 8) / 8.
    assert last_row == ('| m | 1.00 | 2.00 | 3.00 | 4.00 | 5.00 | 6.00 | 7.00 | 8.00 | 9.00 '
                        '| 4.50 |')


def test_the_newest_run_counts_and_a_result_file_names_its_run(tmp_path, table, capsys):
    voc20 = tmp_path / 'clipseg_vitb_voc20'
    write_run(voc20, '20250101_000000', 10.0)
    write_run(voc20, '20250102_000000', 81.0)  # the newest run counts
    voc21 = write_run(tmp_path / 'clipseg_vitb_voc21', '20250101_000000', 62.0)
    assert run_cli(table, [str(voc20), str(voc21 / '20250101_000000.json')]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == '| clipseg_vitb | 62.0 | 81.0 | 71.5 |'


def test_a_lone_unfinished_run_is_explained(tmp_path, table, capsys):
    write_run(tmp_path / 'clipseg_vitb_voc20', '20250101_000000')
    assert run_cli(table, [str(tmp_path / 'clipseg_vitb_voc20')]) == 1
    assert 'holds no tools/test.py result' in capsys.readouterr().err


def test_an_unknown_benchmark_is_refused(tmp_path, table, capsys):
    write_run(tmp_path / 'clipseg_vitb_kitti', '20250101_000000', 1.0)
    assert run_cli(table, [str(tmp_path / 'clipseg_vitb_kitti')]) == 1
    assert 'does not end with _<benchmark>' in capsys.readouterr().err


@pytest.fixture(scope='module')
def tiny_voc20(tmp_path_factory) -> Path:
    """The tiny synthetic benchmark under a config named like a VOC20 run, with its data."""
    root = tmp_path_factory.mktemp('tiny_voc20')
    runpy.run_path(str(REPO / 'tools' / 'make_synthetic_scenes.py'))['write_scenes'](
        str(root / 'scenes'), num_images=2, seed=1)
    config = root / 'clipseg_tiny_voc20.py'
    config.write_text(f"_base_ = [{str(REPO / 'configs' / 'clipseg_tiny_synthetic.py')!r}]\n"
                      f"test_dataloader = dict(dataset=dict(data_root="
                      f"{str(root / 'scenes')!r}))\n")
    return config


def test_configs_are_checked_before_the_first_evaluation(tiny_voc20, tmp_path, table,
                                                         capsys):
    work_root = tmp_path / 'work_dirs'
    argv = [str(tiny_voc20), str(REPO / 'configs' / 'clipseg_vitb_cityscapes.py'),
            '--data-root', f'cityscapes={tmp_path / "no_cityscapes"}',
            '--work-dir-root', str(work_root)]
    assert run_cli(table, argv) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: 1 of the configs cannot run (nothing was evaluated)'), err
    assert 'clipseg_vitb_cityscapes.py: ' in err and 'no_cityscapes' in err
    assert not list(work_root.glob('*/*/*.json'))  # the tiny config was not evaluated


def test_an_evaluated_config_names_its_run(tiny_voc20, tmp_path, table, capsys):
    work_root = tmp_path / 'work_dirs'
    assert run_cli(table, [str(tiny_voc20), '--work-dir-root', str(work_root)]) == 0
    out = capsys.readouterr().out.splitlines()
    result, = work_root.glob('clipseg_tiny_voc20/*/*.json')
    assert out[0] == f'clipseg_tiny_voc20  {result}'
    assert out[-1].startswith('| clipseg_tiny | ')

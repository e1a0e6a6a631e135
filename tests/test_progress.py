"""Progress of long steps: readable lines in a log, a rewritten line on a terminal, an ETA,
and the tools that report it."""
import io
import json
import runpy
from pathlib import Path

import pytest

from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.engine import TimedLoggerHook
from mmseg_clipseg.apis import progress as progress_module
from mmseg_clipseg.apis.progress import Progress, track

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / 'configs' / 'clipseg_tiny_synthetic.py')


class Clock:
    """A stand-in for ``time.monotonic`` that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):

    def isatty(self) -> bool:
        return True


def tool(name: str) -> dict:
    return runpy.run_path(str(REPO / 'tools' / name))


def test_log_gets_whole_lines_at_the_interval_with_an_eta(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, 'monotonic', clock)
    stream = io.StringIO()
    with Progress(100, 'step', stream=stream, interval_s=10) as progress:
        for _ in range(50):  # 50 images in 5 s: no line before 10 s
            clock.now += 0.1
            progress.update()
        clock.now += 5.0
        progress.update(10, status='mode b')  # 60 done at 10.0 s
        clock.now += 1.0
        progress.update(40)
    lines = stream.getvalue().splitlines()
    assert '\r' not in stream.getvalue()
    assert lines == ['step: 0/100 images (0%)',
                     'step: 60/100 images (60%), mode b, 6.00 images/s, elapsed 0:00:10, '
                     'ETA 0:00:07',
                     'step: 100/100 images (100%), mode b, 9.09 images/s, done in 0:00:11']


def test_terminal_line_is_rewritten_and_ended(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, 'monotonic', clock)
    stream = Terminal()
    items = []
    for item in track(range(3), 3, 'scenes', unit='scenes', stream=stream):
        clock.now += 1.0
        items.append(item)
    text = stream.getvalue()
    assert items == [0, 1, 2]
    assert text.count('\n') == 1 and text.endswith('done in 0:00:03\x1b[K\n')
    assert text.startswith('\rscenes: 0/3 scenes (0%)')


def test_echo_prints_above_the_terminal_line(capsys):
    stream = Terminal()
    progress = Progress(2, 'demo', stream=stream)
    progress.echo('saved a.png')
    assert capsys.readouterr().out == 'saved a.png\n'
    assert stream.getvalue().endswith('\r\x1b[K\rdemo: 0/2 images (0%)\x1b[K')


class FakeRunner:
    """What LoggerHook.after_test_iter uses of a runner."""

    def __init__(self) -> None:
        self.lines = []
        self.logger = self
        self.log_processor = self

    def info(self, line: str) -> None:
        self.lines.append(line)

    def get_log_after_iter(self, runner, batch_idx: int, mode: str):
        return {}, f'{mode} {batch_idx + 1}'

    def get_log_after_epoch(self, runner, batch_idx: int, mode: str, with_non_scalar: bool):
        return {'mIoU': 50.0}, f'{mode} done'


def test_test_loop_logs_every_interval_seconds_or_iterations(monkeypatch):
    from mmseg_clipseg.engine import timed_logger_hook
    clock = Clock()
    monkeypatch.setattr(timed_logger_hook.time, 'monotonic', clock)
    hook = TimedLoggerHook(interval=50, interval_s=10)
    runner = FakeRunner()
    hook.before_test_epoch(runner)
    for batch_idx in range(120):  # 3 s per image: a line every 4 images (12 s)
        clock.now += 3.0
        hook.after_test_iter(runner, batch_idx)
    assert runner.lines[:3] == ['test 4', 'test 8', 'test 12']
    fast = FakeRunner()
    hook.before_test_epoch(fast)
    for batch_idx in range(120):  # 0.01 s per image: every 50 iterations
        clock.now += 0.01
        hook.after_test_iter(fast, batch_idx)
    assert fast.lines == ['test 50', 'test 100']


@pytest.mark.parametrize('main_process', [True, False])
def test_only_the_main_process_writes_the_final_metrics_file(monkeypatch, tmp_path,
                                                             main_process):
    # every rank writing <timestamp>.json into one folder at once left a corrupt file
    from mmseg_clipseg.engine import timed_logger_hook
    monkeypatch.setattr(timed_logger_hook, 'is_main_process', lambda: main_process)
    runner = FakeRunner()
    runner.log_dir, runner.test_dataloader = str(tmp_path), [None] * 3
    hook = TimedLoggerHook()
    hook.json_log_path = 'run.json'
    hook.after_test_epoch(runner)
    assert runner.lines == ['test done']
    written = tmp_path / 'run.json'
    assert written.exists() == main_process
    if main_process:
        assert json.loads(written.read_text()) == {'mIoU': 50.0}


def test_timed_logger_refuses_a_bad_interval():
    with pytest.raises(ValueError, match='interval_s'):
        TimedLoggerHook(interval_s=0)


def test_default_runtime_uses_the_timed_logger():
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / 'configs' / 'clipseg_vitb_voc20.py'))
    assert cfg.default_hooks.logger.type == 'TimedLoggerHook'


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('progress_scenes')
    tool('make_synthetic_scenes.py')['write_scenes'](str(root), num_images=4, seed=1)
    return str(root)


def _progress_lines(err: str, title: str) -> list:
    assert '\r' not in err  # captured output is no terminal: whole lines only
    return [line for line in err.splitlines() if line.startswith(f'{title}: ')]


def test_make_synthetic_scenes_shows_progress(tmp_path, capsys):
    assert run_cli(tool('make_synthetic_scenes.py')['main'],
                   [str(tmp_path / 'out'), '--num-images', '3']) == 0
    lines = _progress_lines(capsys.readouterr().err, 'make_synthetic_scenes')
    assert lines[0] == 'make_synthetic_scenes: 0/3 scenes (0%)'
    assert lines[-1].startswith('make_synthetic_scenes: 3/3 scenes (100%)')
    assert len(lines) == 2


def test_compare_dense_modes_shows_progress_over_all_modes(scenes, capsys):
    assert run_cli(tool('compare_dense_modes.py')['main'],
                   [CONFIG, '--data-root', scenes, '--modes', 'clipseg', 'vanilla']) == 0
    captured = capsys.readouterr()
    lines = _progress_lines(captured.err, 'compare_dense_modes')
    assert lines[0] == 'compare_dense_modes: 0/8 images (0%), mode clipseg'
    assert lines[-1].startswith('compare_dense_modes: 8/8 images (100%), mode vanilla')
    assert 'compare_dense_modes' not in captured.out  # the table alone on stdout


def test_ablate_shows_progress_over_distinct_variants(scenes, capsys):
    assert run_cli(tool('ablate.py')['main'],
                   [CONFIG, '--data-root', scenes, '--only', 'value_path']) == 0
    lines = _progress_lines(capsys.readouterr().err, 'ablate')
    # value_path=own is the config itself: two distinct variants of 4 images.
    assert lines[0] == 'ablate: 0/8 images (0%), 1/2 clipseg (config)'
    assert lines[-1].startswith('ablate: 8/8 images (100%), 2/2 value_path=final')


def test_demo_counts_several_images(scenes, tmp_path, capsys):
    images = str(Path(scenes) / 'img_dir' / 'val')
    assert run_cli(tool('demo.py')['main'],
                   [images, '--model', 'tiny-synthetic', '--classes', 'synthetic',
                    '--out-dir', str(tmp_path)]) == 0
    captured = capsys.readouterr()
    lines = _progress_lines(captured.err, 'demo')
    assert lines[0] == 'demo: 0/4 images (0%)'
    assert lines[-1].startswith('demo: 4/4 images (100%)')
    assert captured.out.count('saved ') == 4

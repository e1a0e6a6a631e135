"""Progress lines of an evaluation at a steady pace, whatever the speed of the machine."""
import os.path as osp
import time
from typing import Dict, Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.fileio import dump
from mmengine.hooks import LoggerHook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class TimedLoggerHook(LoggerHook):
    """mmengine's LoggerHook whose validation and test lines (iterations done, ETA, time
    per iteration) come every ``interval`` iterations or every ``interval_s`` seconds,
    whichever comes first.

    An iteration count alone suits one machine only: 50 images are a second on a GPU and
    minutes on a CPU, where the run looked hung between two lines.

    The final metrics file ``<log_dir>/<timestamp>.json`` is written by the main process
    only: mmengine's hook writes it from every rank into the one shared folder, and two
    ranks writing records of different lengths at once leave a file that is not JSON.

    Args:
        interval_s: Longest time between two progress lines, in seconds.
        **kwargs: :class:`~mmengine.hooks.LoggerHook`'s arguments (``interval``, ...).
    """

    def __init__(self, interval_s: float = 10.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) \
                or not interval_s > 0:
            raise ValueError(f'interval_s must be a positive number of seconds; got '
                             f'{interval_s!r}')
        self.interval_s = float(interval_s)
        self._last_line = time.monotonic()

    def _due(self, batch_idx: int) -> bool:
        """Whether iteration ``batch_idx`` gets a line (and restart the clock if so)."""
        now = time.monotonic()
        if self.every_n_inner_iters(batch_idx, self.interval) \
                or now - self._last_line >= self.interval_s:
            self._last_line = now
            return True
        return False

    def before_val_epoch(self, runner) -> None:
        self._last_line = time.monotonic()

    def before_test_epoch(self, runner) -> None:
        self._last_line = time.monotonic()

    def after_val_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                       outputs: Optional[Sequence] = None) -> None:
        if self._due(batch_idx):
            _, line = runner.log_processor.get_log_after_iter(runner, batch_idx, 'val')
            runner.logger.info(line)

    def after_test_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        if self._due(batch_idx):
            _, line = runner.log_processor.get_log_after_iter(runner, batch_idx, 'test')
            runner.logger.info(line)

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        tag, line = runner.log_processor.get_log_after_epoch(
            runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
        runner.logger.info(line)
        if is_main_process():
            dump(self._process_tags(tag), osp.join(runner.log_dir, self.json_log_path))

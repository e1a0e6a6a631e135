"""Progress of a long step, with rate and time left, readable on a terminal and in a log.

On a terminal one status line is rewritten in place; anywhere else (a CI log, a file) a
full line is written when the step starts, every ``interval_s`` seconds and when it ends,
so that a log never fills with carriage returns.
"""
import sys
import time
from datetime import timedelta
from typing import Iterable, Iterator, Optional, TextIO, TypeVar

Item = TypeVar('Item')
# Seconds between two redraws of the status line on a terminal.
TERMINAL_REDRAW_S = 0.2


def _clock(seconds: float) -> str:
    """``H:MM:SS`` of a number of seconds."""
    return str(timedelta(seconds=round(seconds)))


class Progress:
    """Count done work out of ``total`` and show it with the rate and the time left.

    Args:
        total: Units of work in the whole step (at least 1).
        title: What the step does, e.g. ``'compare_dense_modes'``.
        unit: Name of the units, plural (``'images'``).
        stream: Where to write (default: ``sys.stderr``, so that a tool's results on
            stdout stay clean).
        interval_s: Seconds between two lines when ``stream`` is not a terminal.
        status: What is being done first (see :meth:`update`).
    """

    def __init__(self, total: int, title: str, unit: str = 'images',
                 stream: Optional[TextIO] = None, interval_s: float = 10.0,
                 status: str = '') -> None:
        self.total = max(int(total), 1)
        self.title, self.unit = title, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s = interval_s
        isatty = getattr(self.stream, 'isatty', None)
        self.live = bool(isatty and isatty())
        self.done = self.shown_done = 0
        self.status = status
        self.start = self.last_shown = time.monotonic()
        self._show(force=True)

    def message(self) -> str:
        """``done/total unit (percent)``, the status, the rate, elapsed time and time left."""
        elapsed = time.monotonic() - self.start
        parts = [f'{self.title}: {self.done}/{self.total} {self.unit} '
                 f'({100 * self.done // self.total}%)']
        if self.status:
            parts.append(self.status)
        if self.done:
            rate = f'{self.done / max(elapsed, 1e-9):.2f} {self.unit}/s'
            if self.done == self.total:
                parts.append(f'{rate}, done in {_clock(elapsed)}')
            else:
                left = elapsed * (self.total - self.done) / self.done
                parts.append(f'{rate}, elapsed {_clock(elapsed)}, ETA {_clock(left)}')
        return ', '.join(parts)

    def update(self, count: int = 1, status: Optional[str] = None) -> None:
        """Add ``count`` units of done work; ``status`` (e.g. the variant being run)
        replaces the previous one."""
        self.done = min(self.done + count, self.total)
        if status is not None:
            self.status = status
        self._show(force=self.done == self.total)

    def echo(self, text: str, file: Optional[TextIO] = None) -> None:
        """Print ``text`` (default: to stdout) above the status line of a terminal, which is
        cleared first and drawn again after it."""
        if self.live:
            self._write('\r\x1b[K')
        print(text, file=file or sys.stdout, flush=True)
        if self.live:
            self._write(f'\r{self.last_message}\x1b[K')

    def close(self) -> None:
        """End the line on a terminal; elsewhere write the final count if not shown yet."""
        if self.live:
            self._write('\r' + self.message() + '\x1b[K\n')
        elif self.shown_done != self.done:
            self._write(self.message() + '\n')

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        wait = TERMINAL_REDRAW_S if self.live else self.interval_s
        if not force and now - self.last_shown < wait:
            return
        self.last_shown, self.shown_done = now, self.done
        self.last_message = self.message()
        # On a terminal the line is cleared to its end: a shorter message leaves no tail.
        self._write(f'\r{self.last_message}\x1b[K' if self.live else self.last_message + '\n')

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def track(items: Iterable[Item], total: int, title: str, unit: str = 'images',
          stream: Optional[TextIO] = None) -> Iterator[Item]:
    """Yield ``items`` (``total`` of them), counting each one done when the next is asked
    for."""
    with Progress(total, title, unit, stream) as progress:
        for item in items:
            yield item
            progress.update()

"""Environment variables set for a ``with`` block only, so that nothing changes process-wide."""
import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """Set ``os.environ[name]`` for the ``with`` block only (child processes started inside
    it inherit it), then restore it."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved

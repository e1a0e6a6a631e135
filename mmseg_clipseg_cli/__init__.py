"""The command-line front of mmseg-clipseg: the arguments of ``mmseg-clipseg-demo``,
``mmseg-clipseg-infer`` and ``mmseg-clipseg-app`` (and of ``tools/demo.py``, ``tools/infer.py``,
``tools/app.py``, which call them).

A package of its own, beside :mod:`mmseg_clipseg`, because importing ``mmseg_clipseg``
registers the models into MMSeg's registries and so imports torch, open_clip and mmseg
(seconds); configs and user code rely on that import. Here only ``argparse`` is imported
before the arguments are read, so ``--help`` and a mistyped option answer at once; each
command imports its work from :mod:`mmseg_clipseg.apis` afterwards.
"""
import argparse
import importlib
from typing import Callable, List, Optional, Union

Work = Callable[[argparse.Namespace], None]


class Command:
    """A command: its argument parser, and the function that does the work with the parsed
    arguments, imported only once the arguments are read.

    Args:
        parse_args: ``argv`` (default ``sys.argv[1:]``) to the arguments; ``--help`` and
            argument errors exit here.
        work: The function that takes the arguments, named ``'module:function'`` (e.g.
            ``'mmseg_clipseg_cli.demo_run:write_overlays'``), or a function that imports
            what it needs when called.
    """

    def __init__(self, parse_args: Callable[[Optional[List[str]]], argparse.Namespace],
                 work: Union[str, Work]) -> None:
        self.parse_args = parse_args
        self.work = work

    def execute(self, args: argparse.Namespace) -> None:
        """Do the work (imports torch and :mod:`mmseg_clipseg`)."""
        work = self.work
        if isinstance(work, str):
            module, _, function = work.partition(':')
            work = getattr(importlib.import_module(module), function)
        work(args)

    def main(self, argv: Optional[List[str]] = None) -> None:
        """Read the arguments and do the work; a user's mistake raises ``UserInputError``."""
        self.execute(self.parse_args(argv))

    def run(self, argv: Optional[List[str]] = None) -> int:
        """:meth:`main` with a user's mistake printed as one ``error:`` line (the console
        entry point); returns the exit status."""
        args = self.parse_args(argv)
        from mmseg_clipseg.apis.cli import run_cli  # imports torch: only after the arguments
        return run_cli(lambda _: self.execute(args))

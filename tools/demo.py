"""Segment images with your own class names and save coloured overlays with a legend.

    python tools/demo.py photo.jpg --classes "cat, grass, sky" --out result.png

The same command as ``mmseg-clipseg-demo``; ``python tools/demo.py --help`` tells all, and
the code is in mmseg_clipseg_cli/demo.py.
"""
import sys

from mmseg_clipseg_cli.demo import main, run  # noqa: F401  (main: run in-process by tests)

if __name__ == '__main__':
    sys.exit(run())

"""Segment images in a local web page: upload or pick an image, type the classes.

    pip install -e ".[app]"
    python tools/app.py                     # the tiny model shipped in the package, offline
    python tools/app.py --model vitb        # CLIP ViT-B/16 with CRA + DSI

The same command as ``mmseg-clipseg-app``; the code is in mmseg_clipseg_cli/app.py.
"""
import sys

from mmseg_clipseg_cli.app import run

if __name__ == '__main__':
    sys.exit(run())

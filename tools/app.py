"""Segment images in a local web page: upload or pick an image, type the classes.

    pip install -e ".[app]"
    python tools/app.py                     # the tiny model shipped in the package, offline
    python tools/app.py --model vitb        # CLIP ViT-B/16 with CRA + DSI

Open the address it prints (http://127.0.0.1:7860). See mmseg_clipseg/apis/web_app.py.
"""
import sys

from mmseg_clipseg.apis.web_app import run

if __name__ == '__main__':
    sys.exit(run())

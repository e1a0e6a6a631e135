"""Segment images in a local web page: upload or pick an image, type the classes.

    pip install -e ".[app]"
    mmseg-clipseg-app                       # the tiny model shipped in the package, offline
    mmseg-clipseg-app --model vitb          # CLIP ViT-B/16 with CRA + DSI

Open the address it prints (http://127.0.0.1:7860). Upload an image or pick a synthetic
scene, type classes as --classes of the other tools takes them ("cat, grass, sky"; with
synonyms "cat, kitty; grass; sky"; or a benchmark key such as voc20), choose the dense mode
(clipseg or a baseline) and others to compare side by side, and the page shows the overlay
with its legend, each class's share and the labels as a PNG. The page is in
mmseg_clipseg/apis/web_app.py.
"""
import argparse
import sys
from typing import List, Optional

from . import Command
from .model_options import add_cfg_options_argument

DEFAULT_MODEL = 'tiny-synthetic'
DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 7860


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', '--config', dest='model', default=DEFAULT_MODEL,
                        help='a short name (vitb, vitl, openclip-vitb, ..., tiny-synthetic) '
                        f'or a config file (default: {DEFAULT_MODEL}, which runs offline)')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    add_cfg_options_argument(parser, 'model settings, e.g. clip.pretrained=/path/ViT-B-16.pt')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'address to serve on (default: {DEFAULT_HOST}, this machine '
                        'only; 0.0.0.0 shows the page to your network)')
    parser.add_argument('--port', type=int, default=DEFAULT_PORT,
                        help=f'port to serve on (default: {DEFAULT_PORT})')
    return parser.parse_args(argv)


# The console entry point mmseg-clipseg-app is ``run``.
command = Command(parse_args, 'mmseg_clipseg.apis.web_app:serve')
main, run = command.main, command.run


if __name__ == '__main__':
    sys.exit(run())

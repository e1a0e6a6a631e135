"""Segment images with your own class names and save coloured overlays with a legend.

    mmseg-clipseg-demo photo.jpg --classes "cat, grass, sky" --out result.png
    mmseg-clipseg-demo photos/ "more/*.jpg" --classes "cat, kitty; grass; sky" --out-dir overlays
    mmseg-clipseg-demo scene.png --classes synthetic --model tiny-synthetic   # offline

Any RGB, grey or RGBA image works. One image gives --out (default demo_result.png; PNG,
JPEG, BMP, TIFF or WebP); several images (files, folders, glob patterns) give one PNG each
under --out-dir, named after the image. Existing files are not replaced without --overwrite,
and an input image never. The class shares of each image are printed.

Classes: comma-separated names; with synonyms, semicolons between classes and commas
between a class's synonyms ("cat, kitty; grass; sky"); or a names file (one class per line,
synonyms after commas); or a benchmark key (voc20, ade150, ...).

The model is a short name (default vitb: CLIP ViT-B/16 with CRA + DSI, whose weights are
downloaded once) or a config file (--config is the same option). Without internet, give the
downloaded checkpoint with --cfg-options clip.pretrained=/path/ViT-B-16.pt, or try the tiny
model that ships with the package: --model tiny-synthetic (it knows only its synthetic
scenes' classes: grass, water, sand, rock, circle, square, triangle).
"""
import argparse
import sys
from typing import List, Optional

from . import Command
from .model_options import add_model_arguments

DEFAULT_OUT = 'demo_result.png'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='image files (RGB, grey or RGBA), folders or glob patterns')
    add_model_arguments(parser, 'a short name (vitb, vitl, openclip-vitb, ..., '
                        'tiny-synthetic) or a config file (default: vitb)',
                        model_flags=('--model', '--config'))
    parser.add_argument('--out', help=f'the overlay of one image (default: {DEFAULT_OUT})')
    parser.add_argument('--out-dir', help='folder for the overlays of several images')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace output files that exist already')
    return parser.parse_args(argv)


# The console entry point mmseg-clipseg-demo is ``run``.
command = Command(parse_args, 'mmseg_clipseg_cli.demo_run:write_overlays')
main, run = command.main, command.run


if __name__ == '__main__':
    sys.exit(run())

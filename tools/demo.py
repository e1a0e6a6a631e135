"""Segment images with your own class names and save coloured overlays with a legend.

    python tools/demo.py photo.jpg --classes "cat, grass, sky" --out result.png
    python tools/demo.py photos/ "more/*.jpg" --classes "cat, kitty; grass; sky" --out-dir overlays
    python tools/demo.py scene.png --classes synthetic --model tiny-synthetic   # offline

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
import functools
import os.path as osp
import sys
from typing import List, Sequence

import mmseg_clipseg  # noqa: F401  (first: installs the mmcv-lite shim, registers modules)
from mmseg_clipseg.apis import check_device, model_config
from mmseg_clipseg.utils.atomic_write import write_atomically
from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.apis.progress import Progress
from mmseg_clipseg.apis.image_inputs import (ImageItem, check_not_inputs, check_readable_images,
                                        collect_images)
from mmseg_clipseg.apis.image_tool_options import (add_model_arguments, parse_classes,
                                              set_head_vocabulary, vocabulary_options)
from mmseg_clipseg.apis.visualization import class_areas, render_overlay

DEFAULT_OUT = 'demo_result.png'
# Formats an RGB overlay can be saved in, by file extension.
OUT_FORMATS = {'.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG', '.bmp': 'BMP', '.tif': 'TIFF',
               '.tiff': 'TIFF', '.webp': 'WEBP'}


def parse_args(argv=None) -> argparse.Namespace:
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


def output_paths(args: argparse.Namespace, items: Sequence[ImageItem]) -> List[str]:
    """One output file per image."""
    if args.out_dir is not None:
        return [item.output_path(args.out_dir, '.png') for item in items]
    if len(items) > 1:
        raise UserInputError(f'{len(items)} images were given; --out names one file: give '
                             '--out-dir DIR for their overlays.')
    return [args.out or DEFAULT_OUT]


def check_output_options(args: argparse.Namespace) -> None:
    """``--out`` and ``--out-dir``, before any image is read."""
    if args.out is not None and args.out_dir is not None:
        raise UserInputError('Give --out (the overlay of one image) or --out-dir (a folder '
                             'for several), not both.')
    if args.out_dir is not None and osp.exists(args.out_dir) and not osp.isdir(args.out_dir):
        raise UserInputError(f'--out-dir {args.out_dir!r} is a file; give a folder.')
    out = args.out or DEFAULT_OUT
    if args.out_dir is None:
        if osp.isdir(out):
            raise UserInputError(f'--out {out!r} is a folder; give a file name such as '
                                 f'{osp.join(out, DEFAULT_OUT)!r}, or use --out-dir.')
        if osp.splitext(out)[1].lower() not in OUT_FORMATS:
            raise UserInputError(f'--out {out!r}: the overlay is saved as an image; end the '
                                 f'name with {", ".join(OUT_FORMATS)}.')


def check_existing(outputs: Sequence[str], overwrite: bool) -> None:
    existing = [path for path in outputs if osp.exists(path)]
    if existing and not overwrite:
        more = f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''
        raise UserInputError(f'{existing[0]!r}{more} exists already; add --overwrite to '
                             'replace it, or choose another output name.')


def main(argv=None) -> None:
    args = parse_args(argv)
    check_output_options(args)
    classes = parse_classes(args.classes)
    device = check_device(args.device, '--device')
    items = collect_images(args.images, recursive=args.recursive, exclude=args.out_dir)
    outputs = output_paths(args, items)
    check_not_inputs(outputs, items)
    check_existing(outputs, args.overwrite)
    check_readable_images(items)
    cfg = model_config(args.model, args.cfg_options)
    vocabulary = vocabulary_options(args, cfg)

    from mmseg_clipseg.apis import init_segmentor, segment
    from mmseg_clipseg.apis.image_io import read_rgb
    set_head_vocabulary(cfg, classes, vocabulary)
    segmentor = init_segmentor(cfg, device=device)
    # Several images: their count and the time left on stderr, below the shares.
    progress = Progress(len(items), 'demo') if len(items) > 1 else None
    echo = progress.echo if progress else functools.partial(print, flush=True)
    for item, out in zip(items, outputs):
        image = read_rgb(item.path)
        result = segment(segmentor, image, classes, **vocabulary)
        overlay = render_overlay(image, result.labels, result.classes)
        save_format = OUT_FORMATS[osp.splitext(out)[1].lower()]
        write_atomically(out, lambda path: overlay.save(path, format=save_format))
        lines = [f'{item.path}:'] if len(items) > 1 else []
        lines += [f'{result.classes[class_index]:>24s}  {share:6.1%}'
                  for class_index, share in class_areas(result.labels, len(result.classes))]
        echo('\n'.join(lines + [f'saved {out}']))
        if progress:
            progress.update()
    if progress:
        progress.close()


if __name__ == '__main__':
    sys.exit(run_cli(main))

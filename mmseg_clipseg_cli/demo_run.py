"""What ``mmseg-clipseg-demo`` does once its arguments are read: check the inputs and
outputs, build the model, and save one overlay per image."""
import argparse
import functools
import os.path as osp
from typing import List, Sequence

from mmseg_clipseg.apis import check_device, init_segmentor, model_config, segment
from mmseg_clipseg.apis.cli import parse_cfg_options
from mmseg_clipseg.apis.image_inputs import (ImageItem, check_not_inputs, check_readable_images,
                                             collect_images)
from mmseg_clipseg.apis.image_io import read_rgb
from mmseg_clipseg.apis.image_tool_options import (parse_classes, set_head_vocabulary,
                                                   vocabulary_options)
from mmseg_clipseg.apis.progress import Progress
from mmseg_clipseg.apis.visualization import class_areas, render_overlay
from mmseg_clipseg.utils.atomic_write import write_atomically
from mmseg_clipseg.utils.errors import UserInputError, shown_with_more

from .demo import DEFAULT_OUT

# Formats an RGB overlay can be saved in, by file extension.
OUT_FORMATS = {'.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG', '.bmp': 'BMP', '.tif': 'TIFF',
               '.tiff': 'TIFF', '.webp': 'WEBP'}


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
        names = shown_with_more(list(map(repr, existing)), 1)
        raise UserInputError(f'{names} exist{"s" if len(existing) == 1 else ""} already; add '
                             '--overwrite to replace it, or choose another output name.')


def write_overlays(args: argparse.Namespace) -> None:
    """Segment each image of ``args.images`` and save its overlay (see :mod:`.demo`)."""
    options = parse_cfg_options(args.cfg_options)  # the arguments' own mistakes first
    check_output_options(args)
    classes = parse_classes(args.classes)
    device = check_device(args.device, '--device')
    items = collect_images(args.images, recursive=args.recursive, exclude=args.out_dir)
    outputs = output_paths(args, items)
    check_not_inputs(outputs, items)
    check_existing(outputs, args.overwrite)
    check_readable_images(items)
    cfg = model_config(args.model, options)
    vocabulary = vocabulary_options(args, cfg)
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


"""Write held-out synthetic scenes and their label maps in an MMSeg layout.

    python tools/make_synthetic_scenes.py data/synthetic_scenes --num-images 200 --seed 1

Writes ``img_dir/val/NNNNNN.png`` (RGB) and ``ann_dir/val/NNNNNN.png`` (class indices in the
order of ``mmseg_clipseg/class_names/synthetic.txt``), plus ``captions.txt``, for
``configs/clipseg_tiny_synthetic.py --data-root OUT``. The scenes come from the generator the
tiny CLIP was trained with (``mmseg_clipseg/datasets/synthetic_scenes.py``); the training run
draws its scenes from seed 0's stream, so seeds here must be >= 1 (see the weights' recipe).

The output folder must be new or empty, so that two datasets never mix and no file of
yours is overwritten. A marker file (``.make_synthetic_scenes.json``, with the settings)
records that this tool wrote the folder: running again with the same settings rewrites the
same scenes; other settings need ``--overwrite``, which replaces only a folder this tool
wrote and holding nothing else.
"""
import argparse
import sys
from typing import List, Optional

import numpy as np


TOOL = 'make_synthetic_scenes'
# Shapes are up to 34 pixels wide (SceneGenerator's shape_size) with a pixel of margin.
MIN_SIZE, MAX_SIZE = 36, 1024


def check_settings(num_images: int, seed: int, size: int) -> None:
    """Refuse settings that would fail half-way or give a wrong benchmark."""
    check_whole_numbers(num_images, seed=seed, size=size)
    if seed < 1:
        raise UserInputError(f'--seed must be at least 1; got {seed}. Seed 0 is the stream '
                             'the tiny CLIP was trained on, so its scenes are not held out.')
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserInputError(f'--size must be in {MIN_SIZE}..{MAX_SIZE} pixels (shapes are '
                             f'up to 34 pixels wide; the tiny CLIP was trained at 64); got '
                             f'{size}.')


def write_scenes(root: str, num_images: int, seed: int, size: int = 64,
                 overwrite: bool = False, show_progress: bool = False) -> None:
    """Write ``num_images`` scenes drawn with ``seed`` under ``root`` (see the module
    docstring for when an existing folder is refused); ``show_progress``: count them on
    stderr.

    Raises:
        UserInputError: Bad settings, or ``root`` is not a folder this tool may write.
    """
    check_settings(num_images, seed, size)
    settings = dict(tool=TOOL, num_images=int(num_images), seed=int(seed), size=int(size))
    generator = SceneGenerator(size=size)
    rng = np.random.default_rng(seed)
    scenes = (generator.sample(rng) for _ in range(num_images))
    if show_progress:
        scenes = track(scenes, num_images, TOOL, 'scenes')
    write_dataset(root, settings, LAYOUT,
                  ((scene.image, scene.label, scene.caption) for scene in scenes), overwrite)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='output folder (the dataset root): new or empty')
    parser.add_argument('--num-images', type=int, default=200, help='at least 1 (default 200)')
    parser.add_argument('--seed', type=int, default=1, help='at least 1 (default 1)')
    parser.add_argument('--size', type=int, default=64,
                        help=f'image side in pixels, {MIN_SIZE}..{MAX_SIZE} (default 64)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a dataset this tool wrote earlier into OUT')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

from mmseg_clipseg.apis.cli import run_cli  # noqa: E402
from mmseg_clipseg.apis.progress import track
from mmseg_clipseg.apis.synthetic_datasets import (DatasetLayout, check_whole_numbers,
                                                   write_dataset)
from mmseg_clipseg.datasets.synthetic_scenes import SceneGenerator
from mmseg_clipseg.utils.errors import UserInputError

LAYOUT = DatasetLayout(name='{index:06d}', image='img_dir/val/{name}.png',
                       label='ann_dir/val/{name}.png', list_file='captions.txt',
                       list_line='{name}\t{caption}')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    write_scenes(args.out, args.num_images, args.seed, args.size, args.overwrite,
                 show_progress=True)
    print(f'wrote {args.num_images} scenes (seed {args.seed}) to {args.out}')


if __name__ == '__main__':
    sys.exit(run_cli(main))

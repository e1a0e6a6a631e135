"""Write held-out synthetic scenes and their label maps in an MMSeg layout.

    python tools/make_synthetic_scenes.py data/synthetic_scenes --num-images 200 --seed 1

Writes ``img_dir/val/NNNNNN.png`` (RGB) and ``ann_dir/val/NNNNNN.png`` (class indices in the
order of ``mmseg_clipseg/class_names/synthetic.txt``), plus ``captions.txt``, for
``configs/clipseg_tiny_synthetic.py --data-root OUT``. The scenes come from the generator the
tiny CLIP was trained with (``mmseg_clipseg/datasets/synthetic_scenes.py``); the training run
draws its scenes from its own seed's stream, so use seeds >= 1 here (see the weights' recipe).
"""
import argparse
import os
import os.path as osp

import numpy as np
from PIL import Image

from mmseg_clipseg.datasets.synthetic_scenes import SceneGenerator


def write_scenes(root: str, num_images: int, seed: int, size: int = 64) -> None:
    """Write ``num_images`` scenes drawn with ``seed`` under ``root``."""
    generator = SceneGenerator(size=size)
    rng = np.random.default_rng(seed)
    img_dir, ann_dir = osp.join(root, 'img_dir', 'val'), osp.join(root, 'ann_dir', 'val')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    captions = []
    for index in range(num_images):
        scene = generator.sample(rng)
        name = f'{index:06d}'
        Image.fromarray(scene.image).save(osp.join(img_dir, f'{name}.png'))
        Image.fromarray(scene.label).save(osp.join(ann_dir, f'{name}.png'))
        captions.append(f'{name}\t{scene.caption}')
    with open(osp.join(root, 'captions.txt'), 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(captions) + '\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='output folder (the dataset root)')
    parser.add_argument('--num-images', type=int, default=200)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--size', type=int, default=64, help='image side in pixels')
    args = parser.parse_args()
    if args.num_images < 1:
        parser.error('--num-images must be at least 1')
    write_scenes(args.out, args.num_images, args.seed, args.size)
    print(f'wrote {args.num_images} scenes (seed {args.seed}) to {args.out}')


if __name__ == '__main__':
    main()

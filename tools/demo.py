"""Segment one image with your own class names and save a coloured overlay with a legend.

    python tools/demo.py photo.jpg --classes "cat,grass,sky" --out result.png

Any RGB, grey or RGBA image works. The model comes from ``--config`` (default: CLIP ViT-B/16
with CRA + DSI); its dataset part is not used.
"""
import argparse
import os
import sys
from typing import List

import mmseg_clipseg  # noqa: F401  (first: installs the mmcv-lite shim, registers modules)
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from PIL import Image

from mmseg_clipseg.cli import load_config, run_cli
from mmseg_clipseg.class_names import load_class_names
from mmseg_clipseg.errors import MissingFileError, UserInputError
from mmseg_clipseg.visualization import class_areas, render_overlay

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), '..', 'configs',
                              'clipseg_vitb_voc20.py')
# Steps of a test pipeline that read files; the demo hands over the decoded image instead.
_FILE_LOADERS = ('LoadImageFromFile', 'LoadAnnotations')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('image', help='image file (RGB, grey or RGBA)')
    parser.add_argument('--classes', required=True,
                        help='comma-separated class names, e.g. "cat,grass,sky", or a '
                        'names file (one class per line, synonyms after commas)')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='model config')
    parser.add_argument('--out', default='demo_result.png', help='output PNG')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config settings, e.g. model.clip.pretrained=/path.bin')
    return parser.parse_args(argv)


def read_rgb(path: str) -> np.ndarray:
    """Any image file as (H, W, 3) uint8 RGB; alpha is composited over white."""
    if not os.path.isfile(path):
        raise MissingFileError(f'Image {path!r} does not exist.')
    try:
        image = Image.open(path)
        image.load()
    except OSError as error:
        raise UserInputError(f'Could not read {path!r} as an image: {error}') from error
    if image.mode in ('RGBA', 'LA', 'PA') or 'transparency' in image.info:
        background = Image.new('RGBA', image.size, 'white')
        image = Image.alpha_composite(background, image.convert('RGBA'))
    return np.asarray(image.convert('RGB'))


def parse_classes(spec: str) -> List[str]:
    """``--classes``: a names file, or comma-separated names."""
    if os.path.isfile(spec):
        return [', '.join(names) for names in load_class_names(spec)]
    return [name.strip() for name in spec.split(',')]


def segment(image: np.ndarray, classes: List[str], args: argparse.Namespace) -> np.ndarray:
    """Labels (H, W) of an RGB image, one index per entry of ``classes``."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.model.decode_head.class_names = classes
    cfg.model.decode_head.bg_threshold = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model).to(args.device).eval()
    pipeline = Compose([step for step in cfg.test_dataloader.dataset.pipeline
                        if step['type'] not in _FILE_LOADERS])
    bgr = np.ascontiguousarray(image[..., ::-1])
    sample = pipeline(dict(img=bgr, img_path=args.image, img_shape=bgr.shape[:2],
                           ori_shape=bgr.shape[:2]))
    with torch.no_grad():
        result = model.test_step(pseudo_collate([sample]))[0]
    return result.pred_sem_seg.data[0].cpu().numpy()


def main(argv=None) -> None:
    args = parse_args(argv)
    image = read_rgb(args.image)
    classes = parse_classes(args.classes)
    labels = segment(image, classes, args)
    names = [name.split(',')[0].strip() for name in classes]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    render_overlay(image, labels, names).save(args.out)
    for class_index, share in class_areas(labels, len(names)):
        print(f'{names[class_index]:>24s}  {share:6.1%}')
    print(f'saved {args.out}')


if __name__ == '__main__':
    sys.exit(run_cli(main))

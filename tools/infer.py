"""Label a collection of images with your own class names: one label PNG per image.

    python tools/infer.py photos/ --recursive --classes "road; car, truck; sky" --out-dir labels
    python tools/infer.py "shots/*.jpg" @more_images.txt --classes voc20 --out-dir labels
    torchrun --nproc_per_node 4 tools/infer.py photos/ -r --classes ade150 --out-dir labels

Inputs: image files, folders (their images; sub-folders too with --recursive), glob
patterns ("shots/**/*.jpg", quoted so that the shell leaves them alone), and list files
(@list.txt or --list list.txt: one input per line, relative to the current folder; blank
lines and lines starting with # are skipped). Folders and globs take the files with an
image extension (.jpg, .png, .tif, ...), and skip hidden files and the --out-dir folder.

Classes (--classes): comma-separated names ("cat, grass, sky"); with synonyms, classes
separated by semicolons and a class's synonyms by commas ("cat, kitty; grass, lawn; sky",
the first name of a class is its name); a names file (one class per line, synonyms after
commas); or a benchmark key (voc20, ade150, cityscapes, ...).

Outputs, under --out-dir, named after the image: a file x.jpg becomes x.png; an image found
in a folder or by a glob keeps its path below the folder or the glob's fixed part
(photos/a/x.jpg, from the folder photos or from "photos/**/*.jpg", becomes a/x.png):
  NAME.png  the class index of every pixel, at the image's size: a palette PNG (8-bit, the
            package's label colours) for up to 256 classes, a 16-bit grey PNG beyond;
  NAME.npy  with --probabilities: every class's probability, float16, shape (K, H, W), K
            classes in --classes order (numpy.load reads it);
  infer_settings.json  the classes (index order), model and options of the run.

Resume: running the same command again skips the images whose outputs are complete (each
file is written under a temporary name and renamed when complete); a run with other
settings into the same --out-dir is refused unless --overwrite (which redoes every image).
Under torchrun each process labels its share of the sorted images (every rank-th image).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import mmseg_clipseg  # noqa: F401  (first: installs the mmcv-lite shim, registers modules)
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import all_gather_object, is_main_process
from PIL import Image

from mmseg_clipseg.apis import check_device, model_config, option_paths
from mmseg_clipseg.utils.atomic_write import remove_partials, write_atomically
from mmseg_clipseg.class_names import ClassNames
from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.apis.image_inputs import (ImageItem, check_not_inputs, check_readable_images,
                                        collect_images)
from mmseg_clipseg.apis.image_tool_options import (add_model_arguments, parse_classes,
                                              set_head_vocabulary, vocabulary_options)

SETTINGS_FILE = 'infer_settings.json'


# --- Outputs ----------------------------------------------------------------------------

def label_image(labels: np.ndarray, classes: Sequence[str]) -> Image.Image:
    """Labels (H, W) as a palette image (<= 256 classes) in the vocabulary's colours (those of
    the demo, --show-dir and MMSeg's visualizer), or a 16-bit grey image."""
    from mmseg_clipseg.datasets.palette import palette_for
    if len(classes) <= 256:
        image = Image.fromarray(labels.astype(np.uint8))
        image.putpalette([value for colour in palette_for(classes) for value in colour])
        return image
    return Image.fromarray(labels.astype(np.uint16))


def _save_npy(array: np.ndarray):
    def write(path: str) -> None:
        with open(path, 'wb') as handle:
            np.save(handle, array)
    return write


def read_settings(out_dir: str) -> Optional[Dict[str, Any]]:
    path = osp.join(out_dir, SETTINGS_FILE)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise UserInputError(f'{path!r} cannot be read ({error}); remove it, or give another '
                             '--out-dir.') from error


def write_settings(out_dir: str, settings: Dict[str, Any]) -> None:
    text = json.dumps(settings, indent=1, ensure_ascii=False) + '\n'

    def write(path: str) -> None:
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
    write_atomically(osp.join(out_dir, SETTINGS_FILE), write)


def check_resume(out_dir: str, items: Sequence[ImageItem], settings: Dict[str, Any],
                 overwrite: bool) -> None:
    """Refuse an ``--out-dir`` with outputs of other settings, or outputs of unknown origin;
    record the settings."""
    # Outputs first, then the settings: a run writes its settings before any output.
    existing = [label_path(out_dir, item) for item in items
                if osp.exists(label_path(out_dir, item))]
    recorded = read_settings(out_dir)
    if not overwrite:
        if recorded is None and existing:
            more = f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''
            raise UserInputError(
                f'--out-dir {out_dir!r} already holds {existing[0]!r}{more} but no '
                f'{SETTINGS_FILE}, so they were not written by this tool. Give another '
                '--out-dir, or --overwrite to replace them.')
        if recorded is not None and recorded != settings:
            differ = [key for key in settings if recorded.get(key) != settings[key]]
            raise UserInputError(
                f'--out-dir {out_dir!r} holds labels made with other settings '
                f'({", ".join(differ) or "version"} differ; see {SETTINGS_FILE}). Give another '
                '--out-dir to keep both, or --overwrite to redo every image.')
    if overwrite or recorded != settings:
        write_settings(out_dir, settings)


def label_path(out_dir: str, item: ImageItem) -> str:
    return item.output_path(out_dir, '.png')


def probabilities_path(out_dir: str, item: ImageItem) -> str:
    return item.output_path(out_dir, '.npy')


# --- Distributed ------------------------------------------------------------------------

def init_distributed(device: torch.device) -> Tuple[int, int, torch.device]:
    """Rank, world size and this process's device; under torchrun, the process group (gloo
    on CPU, NCCL on CUDA, each process on its own GPU unless ``device`` names one)."""
    if int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return 0, 1, device
    import torch.distributed as dist
    from mmengine.dist import get_dist_info, init_dist
    cuda = device.type == 'cuda'
    if not dist.is_initialized():
        if cuda:
            init_dist('pytorch', backend='nccl')
        else:
            dist.init_process_group(backend='gloo')
    rank, world_size = get_dist_info()
    if cuda and device.index is None:
        device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
    return rank, world_size, device


# --- The tool ---------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', nargs='*', metavar='INPUT',
                        help='image files, folders, glob patterns or @list files')
    parser.add_argument('--list', action='append', default=[], metavar='FILE',
                        help='a list file: one input per line (may be repeated)')
    parser.add_argument('--out-dir', required=True, help='folder for the outputs')
    add_model_arguments(parser, 'a short name (vitb, vitl, openclip-vitb, ..., '
                        'tiny-synthetic) or a config file (default: vitb)')
    parser.add_argument('--probabilities', action='store_true',
                        help='also write NAME.npy: float16 (K, H, W) class probabilities')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every image, replacing outputs already in --out-dir')
    parser.add_argument('--quiet', '-q', action='store_true',
                        help='no progress bar and no summary')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1; got {args.batch_size}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    classes = parse_classes(args.classes)
    device = check_device(args.device, '--device')
    out_dir = args.out_dir
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise UserInputError(f'--out-dir {out_dir!r} is a file; give a folder.')
    items = collect_images(args.inputs, args.list, args.recursive, exclude=out_dir)
    check_not_inputs([path for item in items for path in
                      (label_path(out_dir, item), probabilities_path(out_dir, item))], items)
    check_readable_images(items)
    base = model_config(args.model)
    options = option_paths(base, args.cfg_options)  # as recorded in the settings
    cfg = model_config(base, options)
    vocabulary = vocabulary_options(args, cfg)
    settings = json.loads(json.dumps(dict(
        model=osp.abspath(args.model) if osp.exists(args.model) else args.model,
        cfg_options=options, classes=[', '.join(names) for names in classes],
        **vocabulary), default=repr))

    rank, world_size, device = init_distributed(device)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as error:
        raise UserInputError(f'--out-dir {out_dir!r} cannot be made: {error.strerror}.') \
            from error
    check_resume(out_dir, items, settings, args.overwrite)
    share = items[rank::world_size]

    def done(item: ImageItem) -> bool:
        return not args.overwrite and osp.exists(label_path(out_dir, item)) and (
            not args.probabilities or osp.exists(probabilities_path(out_dir, item)))

    todo = [item for item in share if not done(item)]
    failures: List[str] = []
    if todo:
        failures = label_images(todo, classes, vocabulary, cfg, device, args)
    results = all_gather_object((len(share) - len(todo), len(todo) - len(failures), failures))
    skipped = sum(result[0] for result in results)
    written = sum(result[1] for result in results)
    failures = [failure for result in results for failure in result[2]]
    if rank == 0 and not args.quiet:
        print(f'labelled {written} image(s), skipped {skipped} already done, '
              f'in {out_dir}', flush=True)
    if world_size > 1:
        torch.distributed.destroy_process_group()
    if failures:
        more = f'; and {len(failures) - 2} more' if len(failures) > 2 else ''
        raise UserInputError(f'{len(failures)} image(s) could not be read, so they have no '
                             f'labels: {"; ".join(failures[:2])}{more}. Fix or remove them '
                             'and run again: finished images are skipped.')


def label_images(items: Sequence[ImageItem], classes: ClassNames, vocabulary: Dict[str, Any],
                 cfg: Config, device: torch.device, args: argparse.Namespace) -> List[str]:
    """Segment ``items`` and write their outputs; returns the images that could not be
    read, each with the reason."""
    from mmengine.utils import ProgressBar

    from mmseg_clipseg.apis import init_segmentor, segment
    from mmseg_clipseg.apis.image_io import read_rgb
    set_head_vocabulary(cfg, classes, vocabulary)
    segmentor = init_segmentor(cfg, device=device)
    progress = None if args.quiet or not is_main_process() \
        else ProgressBar(len(items), file=sys.stderr)
    failures = []
    for start in range(0, len(items), args.batch_size):
        batch, images = [], []
        for item in items[start:start + args.batch_size]:
            remove_partials(label_path(args.out_dir, item))
            remove_partials(probabilities_path(args.out_dir, item))
            try:
                images.append(read_rgb(item.path))
                batch.append(item)
            except UserInputError as error:
                failures.append(str(error))
        if batch:
            results = segment(segmentor, images, classes, **vocabulary,
                              return_probabilities=args.probabilities,
                              batch_size=len(batch))
            for item, result in zip(batch, results):
                if args.probabilities:
                    write_atomically(probabilities_path(args.out_dir, item),
                                     _save_npy(result.probabilities.astype(np.float16)))
                image = label_image(result.labels, result.classes)
                write_atomically(label_path(args.out_dir, item),
                                 lambda path: image.save(path, format='PNG'))
        if progress is not None:
            progress.update(len(items[start:start + args.batch_size]))
    if progress is not None:
        sys.stderr.write('\n')
    return failures


if __name__ == '__main__':
    sys.exit(run_cli(main))

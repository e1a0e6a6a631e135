"""What ``mmseg-clipseg-infer`` does once its arguments are read: check the inputs and the
output folder (resume), build the model, and write each image's labels (and probabilities)."""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import all_gather_object, is_main_process
from mmengine.utils import ProgressBar
from PIL import Image

from mmseg_clipseg.apis import check_device, init_segmentor, model_config, option_paths, segment
from mmseg_clipseg.apis.cli import parse_cfg_options
from mmseg_clipseg.apis.image_inputs import (ImageItem, check_not_inputs, check_readable_images,
                                             collect_images)
from mmseg_clipseg.apis.image_io import read_rgb
from mmseg_clipseg.apis.image_tool_options import (parse_classes, set_head_vocabulary,
                                                   vocabulary_options)
from mmseg_clipseg.class_names import ClassNames
from mmseg_clipseg.datasets.palette import palette_for
from mmseg_clipseg.utils.atomic_write import remove_partials, write_atomically
from mmseg_clipseg.utils.errors import UserInputError, shown_with_more

SETTINGS_FILE = 'infer_settings.json'


# --- Outputs ----------------------------------------------------------------------------

def label_image(labels: np.ndarray, classes: Sequence[str]) -> Image.Image:
    """Labels (H, W) as a palette image (<= 256 classes) in the vocabulary's colours (those of
    the demo, --show-dir and MMSeg's visualizer), or a 16-bit grey image."""
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
            raise UserInputError(
                f'--out-dir {out_dir!r} already holds '
                f'{shown_with_more(list(map(repr, existing)), 1)} but no '
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

def write_labels(args: argparse.Namespace) -> None:
    """Label every image of ``args.inputs`` into ``args.out_dir`` (see :mod:`.infer`): this
    process's share under torchrun, skipping images already done."""
    given_options = parse_cfg_options(args.cfg_options)  # the arguments' own mistakes first
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
    options = option_paths(base, given_options)  # as recorded in the settings
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
        raise UserInputError(f'{len(failures)} image(s) could not be read, so they have no '
                             f'labels: {shown_with_more(failures, 2, separator="; ")}. Fix or '
                             'remove them and run again: finished images are skipped.')


def label_images(items: Sequence[ImageItem], classes: ClassNames, vocabulary: Dict[str, Any],
                 cfg: Config, device: torch.device, args: argparse.Namespace) -> List[str]:
    """Segment ``items`` and write their outputs; returns the images that could not be
    read, each with the reason."""
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


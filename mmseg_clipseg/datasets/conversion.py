"""File helpers for the dataset converters in ``tools/dataset_converters``.

Mistakes in the input (a missing folder, a file that is not what the benchmark's release
ships) raise :class:`~mmseg_clipseg.utils.errors.UserInputError`;
:func:`mmseg_clipseg.apis.cli.run_cli` prints them without a traceback.
"""
import os
import os.path as osp
from typing import Iterable, Iterator, List, Sequence, Tuple, TypeVar

import cv2
import numpy as np
from mmengine.utils import scandir, track_iter_progress
from PIL import Image

from ..utils.errors import MissingFileError, UserInputError

Item = TypeVar('Item')


def require_dir(path: str, expected: str) -> str:
    """Return ``path`` if it is a folder, else fail saying what was ``expected`` there."""
    if not osp.isdir(path):
        raise MissingFileError(f'{path!r} is not a folder; expected {expected}.')
    return path


def require_files(paths: Sequence[str], expected: str) -> None:
    """Fail, naming up to three of them, if any of ``paths`` is not a file."""
    missing = [path for path in paths if not osp.isfile(path)]
    if missing:
        shown = ', '.join(repr(path) for path in missing[:3])
        raise MissingFileError(f'{len(missing)} of {len(paths)} {expected} are missing, '
                               f'e.g. {shown}.')


def list_files(folder: str, suffix: str, exclude: Sequence[str] = ()) -> List[str]:
    """Paths relative to ``folder`` of the files below it ending with ``suffix``, sorted.

    Files ending with one of ``exclude`` are left out (e.g. earlier converter outputs).

    Raises:
        MissingFileError: There is no such file.
    """
    found = [path for path in scandir(folder, suffix, recursive=True)
             if not path.endswith(tuple(exclude))]
    if not found:
        raise MissingFileError(f'There are no *{suffix} files under {folder!r}; is it the '
                               'right folder, with the release extracted into it?')
    return sorted(found)


def read_split(path: str) -> List[str]:
    """Image ids listed one per line in ``path`` (blank lines skipped)."""
    require_files([path], 'split file')
    with open(path, encoding='utf-8') as handle:
        return [line.strip() for line in handle if line.strip()]


def write_split(path: str, ids: Sequence[str]) -> None:
    """Write ``ids`` one per line, creating the folder."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(''.join(f'{image_id}\n' for image_id in ids))


def read_label_png(path: str) -> np.ndarray:
    """A single-channel label PNG (grayscale or palette indices) as an (H, W) array."""
    try:
        with Image.open(path) as image:
            labels = np.array(image)
    except (OSError, ValueError) as error:
        raise UserInputError(f'Cannot read the label map {path!r}: {error}') from error
    if labels.ndim != 2:
        raise UserInputError(f'{path!r} is not a single-channel label map '
                             f'(shape {labels.shape}); is it the right file?')
    return labels


def write_label_png(path: str, labels: np.ndarray) -> None:
    """Write an (H, W) uint8 or uint16 label map as a lossless PNG of that bit depth."""
    if labels.ndim != 2 or labels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'label maps are (H, W) uint8 or uint16, got {labels.dtype} '
                         f'{labels.shape}')
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, labels):
        raise OSError(f'Could not write {path!r}.')


def apply_table(labels: np.ndarray, table: np.ndarray, source: str) -> np.ndarray:
    """Map ``labels`` through a lookup table (see ``label_tables``).

    Raises:
        UserInputError: A label is outside the table, so ``source`` is not a label map of
            the expected kind.
    """
    if labels.size and (labels.min() < 0 or labels.max() >= len(table)):
        raise UserInputError(
            f'{source!r} holds label {int(labels.max())}, but this release\'s labels are '
            f'below {len(table)}; is it the right file?')
    return table[labels]


def remap_label_files(pairs: Sequence[Tuple[str, str]], table: np.ndarray) -> None:
    """Read each source PNG, map it through ``table`` and write it to its destination."""
    for source, destination in progress(pairs):
        write_label_png(destination, apply_table(read_label_png(source), table, source))


def remap_beside_sources(label_dir: str, names: Sequence[str], source_suffix: str,
                         target_suffix: str, table: np.ndarray) -> None:
    """Remap the label maps ``names`` (relative to ``label_dir``, each ending with
    ``source_suffix``) through ``table``, writing each beside its source with
    ``target_suffix`` instead, and say how many were written."""
    remap_label_files([(osp.join(label_dir, name),
                        osp.join(label_dir, name[:-len(source_suffix)] + target_suffix))
                       for name in names], table)
    print(f'\nwrote {len(names)} *{target_suffix} files under {label_dir}')


def check_label_values(paths: Sequence[str], allowed: Iterable[int]) -> None:
    """Fail if a label map holds a value outside ``allowed``."""
    allowed_values = np.array(sorted(set(allowed)))
    for path in progress(paths):
        values = np.unique(read_label_png(path))
        unexpected = np.setdiff1d(values, allowed_values)
        if unexpected.size:
            raise UserInputError(f'{path!r} holds labels {unexpected[:5].tolist()} that this '
                                 'benchmark does not use; is it the right file?')


def check_release(root: str, images: Sequence[str], labels: Sequence[str],
                  allowed: Iterable[int], split: str, official_count: int,
                  configs: str) -> None:
    """Check a release that the configs read as it is: every image of the validation split
    has its label map, every label is one of ``allowed``; say what was found.

    Args:
        root: The release folder, named in the summary.
        images: Paths of the split's images.
        labels: Paths of their label maps, in the same order.
        allowed: The label values of the benchmark.
        split: The split as the messages name it (``'val'``).
        official_count: Images in the official split, shown beside the number found.
        configs: The benchmarks whose configs read the release (``'voc20 and voc21'``).
    """
    require_files(images, f'{split} images')
    require_files(labels, f'{split} label maps')
    check_label_values(labels, allowed)
    print(f'\n{root}: {len(images)} validation images with valid labels (the official split '
          f'has {official_count}). Use it with --data-root for the {configs} configs.')


def progress(items: Sequence[Item]) -> Iterator[Item]:
    """Iterate over ``items`` with a progress bar."""
    return iter(track_iter_progress(list(items)))


def convert_coco_labels(root: str, split: str, table: np.ndarray, target_suffix: str) -> None:
    """Remap the official COCO-Stuff-164k label maps of ``split`` with a lookup table, writing
    ``<image id><target_suffix>`` beside each map (tools/dataset_converters/coco_*.py).

    Expects ``root/images/<split>`` and ``root/annotations/<split>/<image id>.png`` (from
    ``stuffthingmaps_trainval2017.zip``); converted maps beside them are not read.
    """
    require_dir(osp.join(root, 'images', split),
                f'images/{split} (the COCO {split} images) in the COCO-Stuff folder')
    label_dir = require_dir(osp.join(root, 'annotations', split),
                            f'annotations/{split} (from stuffthingmaps_trainval2017.zip) in '
                            'the COCO-Stuff folder')
    converted = ('_labelTrainIds.png', '_instanceTrainIds.png')
    remap_beside_sources(label_dir, list_files(label_dir, '.png', exclude=converted), '.png',
                         target_suffix, table)

"""The test set of a config, checked before a run: every image has its label and the
reverse, and every file opens as an image of the right kind and size.

A mistake here would otherwise stop an evaluation part-way (a damaged file, a colour picture
for a label, a label of another size) or quietly change its result (a label without its image
is skipped); each is one :class:`UserInputError` line that names the files.
"""
import os.path as osp
import warnings
from collections import Counter
from typing import Any, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import scandir
from mmseg.registry import DATASETS
from PIL import Image

from ..utils.errors import UserInputError, shown_with_more

# Shown at most this many names when files are missing.
SHOWN = 3


def _suffixes(names: Sequence[str]) -> str:
    counts = Counter(osp.splitext(name)[1] or '(none)' for name in names)
    return ', '.join(f'{count} {suffix!r}' for suffix, count in counts.most_common(3))


def build_test_dataset(cfg: Config) -> Any:
    """The test dataset, built without reading its file list."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    settings = dict(cfg.test_dataloader.dataset, lazy_init=True)
    dataset_type = settings.get('type')
    if not isinstance(dataset_type, str) or DATASETS.get(dataset_type) is None:
        raise UserInputError(f'test_dataloader.dataset.type={dataset_type!r} is not a '
                             'registered dataset.')
    try:
        return DATASETS.build(settings)
    except (TypeError, ValueError, KeyError, AssertionError) as error:
        raise UserInputError(f'test_dataloader.dataset could not be built: {error}') from error


def check_test_files(cfg: Config, decode: bool = False) -> int:
    """Every image of the test set has its label file and the reverse; returns the number
    of images.

    With a split file (``ann_file``), its entries must all have an image and a label. Without
    one, the image folder must hold images with the dataset's ``img_suffix``, each with its
    label, and no label may be left without its image (the evaluation would quietly skip it).
    ``decode``: decode every image and label too (see :func:`check_image_headers`).
    """
    dataset = build_test_dataset(cfg)
    if getattr(dataset, 'backend_args', None):
        return -1  # remote storage: nothing to list here
    prefix = getattr(dataset, 'data_prefix', {}) or {}
    img_dir, ann_dir = prefix.get('img_path'), prefix.get('seg_map_path')
    img_suffix = getattr(dataset, 'img_suffix', '')
    split_file = getattr(dataset, 'ann_file', '') or ''
    kind = type(dataset).__name__
    if split_file and osp.isfile(split_file):
        _check_no_blank_lines(split_file)
    try:
        data_list = dataset.load_data_list()
    except (OSError, ValueError, AssertionError) as error:
        raise UserInputError(f'The test set of {kind} could not be listed: {error}') from error
    if not data_list:
        if split_file:
            raise UserInputError(f'Split file {split_file!r} lists no images.')
        raise _no_images_error(img_dir, img_suffix, kind)
    images = [info['img_path'] for info in data_list]
    missing = [osp.relpath(path, img_dir) if img_dir else path
               for path in images if not osp.isfile(path)]
    if missing:
        hint = (' Split-file entries are names without a suffix.'
                if any(name.endswith(img_suffix * 2) for name in missing) else
                ' Is the copy of the images complete, and the split file for this dataset?')
        raise UserInputError(f'{len(missing)} of the {len(images)} images listed in split '
                             f'file {split_file!r} are not in {img_dir!r}: '
                             f'{shown_with_more(missing, SHOWN)}.{hint}')
    if ann_dir is None:
        return len(images)
    unlabelled = [(osp.relpath(info['img_path'], img_dir), info.get('seg_map_path') or '')
                  for info in data_list if not osp.isfile(info.get('seg_map_path') or '')]
    if unlabelled:
        first, expected = unlabelled[0]
        names = shown_with_more([image for image, _ in unlabelled], SHOWN)
        raise UserInputError(
            f'{len(unlabelled)} of the {len(images)} test images have no label file in '
            f'{ann_dir!r}: {names} (the label of {first} would be '
            f'{osp.relpath(expected, ann_dir)}). Copy or convert the labels (docs/datasets.md).')
    check_image_headers([(info['img_path'], info['seg_map_path']) for info in data_list],
                        img_dir, ann_dir, decode=decode)
    seg_suffix = getattr(dataset, 'seg_map_suffix', '')
    if not split_file and img_dir and osp.isdir(ann_dir) and seg_suffix:
        _check_no_orphan_labels(images, img_dir, ann_dir, img_suffix, seg_suffix, kind)
    return len(images)


def _check_no_blank_lines(split_file: str) -> None:
    """mmseg would read a blank line of a split file as an image named by the suffix alone."""
    with open(split_file, encoding='utf-8', errors='replace') as handle:
        blank = [number for number, line in enumerate(handle, 1) if not line.strip()]
    if blank:
        lines = shown_with_more([str(number) for number in blank], SHOWN)
        raise UserInputError(f'Split file {split_file!r} has blank lines (line {lines}); '
                             'remove them.')


def _no_images_error(img_dir: Optional[str], img_suffix: str, kind: str) -> UserInputError:
    """The image folder holds no file with the dataset's suffix: say what it holds."""
    present = sorted(scandir(img_dir, recursive=True)) if img_dir and osp.isdir(img_dir) \
        else []
    found = 'it is empty'
    if present:
        found = (f'it holds {_suffixes(present)} files: if those are the images, set '
                 '--cfg-options test_dataloader.dataset.img_suffix='
                 f'{osp.splitext(present[0])[1]!r}')
    return UserInputError(f'Image folder {img_dir!r} holds no images ending in '
                          f'{img_suffix!r} (the img_suffix of {kind}); {found}. Is '
                          '--data-root the right dataset, converted as docs/datasets.md '
                          'describes?')


def _check_no_orphan_labels(images: Sequence[str], img_dir: str, ann_dir: str,
                            img_suffix: str, seg_suffix: str, kind: str) -> None:
    """Every label file has its image: the evaluation would skip a label without one."""
    listed = {osp.relpath(path, img_dir) for path in images}
    # Listed as mmseg lists the images (hidden files skipped, links followed).
    orphans = [name for name in sorted(scandir(ann_dir, seg_suffix, recursive=True))
               if name[:-len(seg_suffix)] + img_suffix not in listed]
    if orphans:
        image = orphans[0][:-len(seg_suffix)] + img_suffix
        raise UserInputError(
            f'{len(orphans)} label files in {ann_dir!r} have no image in {img_dir!r}: '
            f'{shown_with_more(orphans, SHOWN)} (the image of {orphans[0]} would be {image}). '
            'The evaluation would skip them: is the copy of the images complete, and do they '
            f'end in {img_suffix!r} (the img_suffix of {kind})?')


class _Unreadable(Exception):
    """A test file that is not an image that can be read; the message says why."""


def _image_facts(path: str, decode: bool) -> Tuple[Tuple[int, int], Tuple[int, int], int]:
    """(width, height) of the stored pixels and of the image upright (its EXIF orientation
    applied), and the number of channels, from the file's header; with ``decode``, every
    pixel is decoded too (a truncated file passes the header but not this).

    Raises:
        _Unreadable: the file is no image, or (``decode``) its pixels cannot be decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as image:
                stored = image.size
                # JPEG keeps EXIF in its header; other formats would be decoded to find it.
                turned = image.format == 'JPEG' and image.getexif().get(0x0112) in (5, 6, 7, 8)
                channels = len(image.getbands())
                if decode:
                    image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise _Unreadable(str(error) or type(error).__name__) from error
    return stored, (stored[::-1] if turned else stored), channels


def check_image_headers(pairs: Sequence[Tuple[str, str]], img_dir: str, ann_dir: str,
                        decode: bool = False) -> None:
    """Every image and label opens as an image, each label is a single-channel map with its
    image's size (upright, or as stored): a damaged file, a colour picture for a label or a
    label of another size would stop the evaluation part-way. With ``decode`` (``--check``)
    every pixel is decoded as well, which finds truncated files; without it only the headers
    are read, and the run's loaders name a file that fails to decode."""
    broken, coloured, mismatched = [], [], []
    for image, label in pairs:
        facts = {}
        for path, folder in ((image, img_dir), (label, ann_dir)):
            try:
                facts[path] = _image_facts(path, decode)
            except _Unreadable as error:
                broken.append((osp.relpath(path, folder), path, str(error)))
        if label in facts and facts[label][2] != 1:
            coloured.append((osp.relpath(label, ann_dir), facts[label][2]))
        if image in facts and label in facts and facts[label][1] not in facts[image][:2]:
            mismatched.append((osp.relpath(label, ann_dir), facts[label][1],
                               facts[image][1]))
    if broken:
        _, path, reason = broken[0]
        names = shown_with_more([name for name, *_ in broken], SHOWN)
        raise UserInputError(f'{len(broken)} test files are not images that can be read '
                             f'(empty or damaged?): {names} ({path}: {reason}). Copy them again.')
    if coloured:
        name, channels = coloured[0]
        raise UserInputError(
            f'{len(coloured)} label maps have several channels, e.g. {name} has {channels} '
            '(a colour picture?); a label map holds one class index per pixel (a grey or '
            'palette PNG). Convert the labels for this dataset (docs/datasets.md).')
    if mismatched:
        name, (lw, lh), (iw, ih) = mismatched[0]
        raise UserInputError(f'{len(mismatched)} label maps differ in size from their images, '
                             f'e.g. {name} is {lw}x{lh} but its image {iw}x{ih}; labels must '
                             'be at the size of their images (converted for this dataset '
                             'version, docs/datasets.md?).')

"""What the synthetic dataset tools (``tools/make_synthetic_*.py``) share: checked counts, a
folder the tool owns (:mod:`.output_folders`), and the images, label maps and list they write.
"""
import dataclasses
import os
import os.path as osp
from typing import Iterable, Set, Tuple

import numpy as np
from PIL import Image

from ..utils.errors import UnwritableFileError, UserInputError
from .output_folders import prepare_output_folder, write_marker

# Quality of the JPEG images written (PIL's default is 75).
JPEG_QUALITY = 95


@dataclasses.dataclass(frozen=True)
class DatasetLayout:
    """Where a synthetic dataset's files go, as paths relative to its root (``/``-separated).

    Attributes:
        name: The name of the ``index``-th sample, e.g. ``'2007_{index:06d}'``.
        image: The path of a sample's image, from its ``name``, e.g.
            ``'JPEGImages/{name}.jpg'`` (a ``.jpg`` is written at :data:`JPEG_QUALITY`).
        label: The path of its label map (a PNG), e.g. ``'SegmentationClass/{name}.png'``.
        list_file: The text file with a line per sample.
        list_line: That line, from the sample's ``name`` and ``caption``.
    """
    name: str
    image: str
    label: str
    list_file: str
    list_line: str = '{name}'

    def files(self, settings: dict) -> Set[str]:
        """The files written with ``settings`` (its ``num_images``), besides the tool's
        marker; the ``expected`` of :func:`~.output_folders.prepare_output_folder`."""
        names = [self.name.format(index=index)
                 for index in range(int(settings['num_images']))]
        return ({self.list_file} | {self.image.format(name=name) for name in names}
                | {self.label.format(name=name) for name in names})


def check_whole_numbers(num_images: object, **options: object) -> None:
    """Refuse a setting that is not a whole number, and fewer than one image.

    The command line's parser already reads whole numbers; this guards the tools' Python
    functions. Settings are named as their options (``num_images`` is ``--num-images``).
    """
    for name, value in dict(num_images=num_images, **options).items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise UserInputError(f'--{name.replace("_", "-")} must be a whole number; got '
                                 f'{value!r}.')
    if num_images < 1:
        raise UserInputError(f'--num-images must be at least 1; got {num_images}.')


def write_dataset(root: str, settings: dict, layout: DatasetLayout,
                  samples: Iterable[Tuple[np.ndarray, np.ndarray, str]],
                  overwrite: bool) -> None:
    """Write ``settings['num_images']`` samples under ``root``, a folder the tool
    ``settings['tool']`` owns (see :func:`~.output_folders.prepare_output_folder`).

    Args:
        root: The dataset folder: new, empty, or written by the same tool.
        settings: The tool's settings, recorded in its marker file.
        layout: Where the files go.
        samples: (image (H, W, 3) uint8 RGB, label map (H, W) uint8, caption) of each
            sample, ``settings['num_images']`` of them, drawn one at a time as they are
            written.
        overwrite: Replace a dataset of other settings that the tool wrote.

    Raises:
        UserInputError: ``root`` is not a folder the tool may write.
        UnwritableFileError: A file cannot be written (no permission, disk full).
    """
    try:
        prepare_output_folder(root, settings, layout.files, overwrite)
        write_marker(root, settings)  # first: an interrupted run is still recognised as ours
        lines = []
        for index, (image, label, caption) in enumerate(samples):
            name = layout.name.format(index=index)
            image_path = osp.join(root, layout.image.format(name=name))
            label_path = osp.join(root, layout.label.format(name=name))
            for path in (image_path, label_path):
                os.makedirs(osp.dirname(path), exist_ok=True)
            options = dict(quality=JPEG_QUALITY) if image_path.endswith('.jpg') else {}
            Image.fromarray(image).save(image_path, **options)
            Image.fromarray(label).save(label_path)
            lines.append(layout.list_line.format(name=name, caption=caption))
        list_path = osp.join(root, layout.list_file)
        os.makedirs(osp.dirname(list_path), exist_ok=True)
        with open(list_path, 'w', encoding='utf-8') as handle:
            handle.write('\n'.join(lines) + '\n')
    except UserInputError:
        raise
    except OSError as error:  # e.g. no permission, disk full
        raise UnwritableFileError(f'Could not write to {root!r}: '
                                  f'{error.strerror or error}.') from error

"""The images a tool is asked to read: files, folders, glob patterns and list files, each with
its output name; and the checks made before any model is built (readable images, no output
onto an input)."""
import dataclasses
import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from PIL import Image, UnidentifiedImageError

from ..utils.errors import MissingFileError, UserInputError, shown_with_more

# The file extensions that folders and glob patterns take as images.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.bmp', '.tif', '.tiff',
                    '.webp', '.gif', '.ppm', '.pgm', '.pbm', '.pnm', '.jp2')


@dataclasses.dataclass(frozen=True)
class ImageItem:
    """One input image.

    Attributes:
        path: The file, as the user named it (or as found in a folder).
        name: Its output name below the output folder, without extension, with ``/``.
    """
    path: str
    name: str

    def output_path(self, folder: str, extension: str) -> str:
        """Its output file below ``folder``, e.g. ``folder/sub/x.png`` for ``sub/x``."""
        return osp.join(folder, *self.name.split('/')) + extension


def _is_image_name(path: str) -> bool:
    return osp.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _inside(path: str, folder: Optional[str]) -> bool:
    if folder is None:
        return False
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _output_name(path: str, root: str) -> str:
    relative = osp.relpath(path, root) if root else osp.basename(path)
    return osp.splitext(relative)[0].replace(os.sep, '/')


def _scan_folder(folder: str, recursive: bool, exclude: Optional[str]) -> List[ImageItem]:
    """The images of ``folder``, without hidden files and folders and ``exclude``.

    ``os.walk`` rather than ``mmengine.utils.scandir``: scandir descends into hidden folders
    (``.git``) and into the output folder before they could be left out, and follows links
    to folders, so that a link to a folder above (``ln -s .. up``) fails with "Too many
    levels of symbolic links" where ``os.walk`` lists each image once.
    """
    items = []
    for current, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith('.')
                            and not _inside(osp.join(current, name), exclude))
        items.extend(ImageItem(osp.join(current, name),
                               _output_name(osp.join(current, name), folder))
                     for name in sorted(files)
                     if not name.startswith('.') and _is_image_name(name))
        if not recursive:
            break
    return items


def _glob_root(pattern: str) -> str:
    """The folder part of a glob before its first wildcard."""
    parts = pattern.split('/') if '/' in pattern else pattern.split(os.sep)
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return '/'.join(fixed) or ('/' if pattern.startswith('/') else '.')


def read_list_file(path: str) -> List[Tuple[str, str]]:
    """The inputs of a list file, each with where it was found (for messages)."""
    if osp.isdir(path):
        raise UserInputError(f'List file {path!r} is a folder; a list file has one image '
                             'path per line (give a folder directly, without @ or --list).')
    if not osp.isfile(path):
        raise MissingFileError(f'List file {path!r} does not exist.')
    try:
        with open(path, encoding='utf-8-sig') as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as error:
        raise UserInputError(f'List file {path!r} is not UTF-8 text; it should hold one '
                             'image path per line.') from error
    entries = [(line.strip(), f'{path}, line {number}: ')
               for number, line in enumerate(lines, 1)
               if line.strip() and not line.lstrip().startswith('#')]
    if not entries:
        raise UserInputError(f'List file {path!r} names no images; give one path per line.')
    return entries


def collect_images(inputs: Sequence[str], list_files: Sequence[str] = (),
                   recursive: bool = False, exclude: Optional[str] = None) -> List[ImageItem]:
    """The images named by files, folders, globs and list files, sorted by output name.

    Args:
        inputs: Command-line inputs; ``@FILE`` is a list file.
        list_files: More list files (``--list``).
        recursive: Take the images of sub-folders of a folder too.
        exclude: A folder whose files are never inputs (the output folder).

    Raises:
        UserInputError: An input that does not exist, a folder or glob without images, or
            two images that would get the same output name.
    """
    specs: List[Tuple[str, str]] = []
    for value in inputs:
        if value.startswith('@'):
            specs.extend(read_list_file(value[1:]))
        else:
            specs.append((value, ''))
    for path in list_files:
        specs.extend(read_list_file(path))
    if not specs:
        raise UserInputError('No input images; give image files, folders, globs or a list '
                             'file (@list.txt).')
    items: List[ImageItem] = []
    for spec, where in specs:
        path = osp.expanduser(spec)
        if osp.isfile(path):
            items.append(ImageItem(path, _output_name(path, '')))
        elif osp.isdir(path):
            found = _scan_folder(path, recursive, exclude)
            if not found:
                deeper = '' if recursive or not _scan_folder(path, True, exclude) else \
                    '; its sub-folders have some: add --recursive'
                raise UserInputError(f'{where}Folder {spec!r} holds no images '
                                     f'({", ".join(IMAGE_EXTENSIONS[:5])}, ...){deeper}.')
            items.extend(found)
        elif glob.has_magic(path):
            root = _glob_root(path)
            matches = [match for match in sorted(glob.glob(path, recursive=True))
                       if osp.isfile(match) and _is_image_name(match)
                       and not osp.basename(match).startswith('.')
                       and not _inside(match, exclude)]
            if not matches:
                raise UserInputError(f'{where}{spec!r} matches no image files.')
            items.extend(ImageItem(match, _output_name(match, root)) for match in matches)
        else:
            raise MissingFileError(f'{where}Input {spec!r} does not exist (inputs are image '
                                   'files, folders, glob patterns or @list files).')
    return _unique(items)


def _unique(items: List[ImageItem]) -> List[ImageItem]:
    """Drop repeats of one file; refuse two files with one output name."""
    by_name: Dict[str, ImageItem] = {}
    for item in items:
        other = by_name.get(item.name)
        if other is None:
            by_name[item.name] = item
        elif osp.realpath(other.path) != osp.realpath(item.path):
            raise UserInputError(
                f'{other.path!r} and {item.path!r} would both be written as '
                f'{item.name!r}: give the folder above both (outputs keep the sub-folders '
                'below a folder input), rename one, or label them in separate runs with '
                'different --out-dir.')
    return sorted(by_name.values(), key=lambda item: item.name)


def check_readable_images(items: Sequence[ImageItem]) -> None:
    """Refuse files that are unreadable or not images (from their header; cheap)."""
    import cv2
    bad = []
    for item in items:
        if not os.access(item.path, os.R_OK):
            bad.append(f'{item.path} (no read permission)')
            continue
        try:
            with Image.open(item.path):
                pass
        except Image.DecompressionBombError:
            pass  # reported when read, with the reason
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            if not cv2.haveImageReader(item.path):
                bad.append(f'{item.path} (not an image file)')
    if bad:
        raise UserInputError(f'{len(bad)} input(s) cannot be read as images: '
                             f'{shown_with_more(bad, 3)}. Give JPEG, PNG, TIFF, BMP or WebP '
                             'images.')


def check_not_inputs(outputs: Sequence[str], items: Sequence[ImageItem]) -> None:
    """Refuse an output file that is one of the input images."""
    inputs = {osp.realpath(item.path): item.path for item in items}
    for output in outputs:
        if osp.realpath(output) in inputs:
            raise UserInputError(f'The output {output!r} is the input image '
                                 f'{inputs[osp.realpath(output)]!r}; give another --out-dir '
                                 '(or --out) so that the image is not overwritten.')

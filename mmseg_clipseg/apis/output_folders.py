"""Output folders that a tool owns: never mix two datasets, never overwrite a user's files.

A tool that writes a dataset records its settings in a marker file in the folder
(``.<tool>.json``, the tool named by ``settings['tool']``). A new or empty folder may be
written; a folder holding the same tool's files may be written again with the same settings,
or replaced with an explicit ``overwrite``; anything else is refused.
"""
import json
import os
import os.path as osp
from typing import Callable, List, Optional, Set

from ..utils.errors import UserInputError


def _marker(tool: str) -> str:
    return f'.{tool}.json'


def prepare_output_folder(root: str, settings: dict, expected: Callable[[dict], Set[str]],
                          overwrite: bool) -> None:
    """Make ``root`` ready for a dataset written with ``settings``, or refuse.

    A new or empty folder is fine. A folder this tool wrote (its marker) that holds only the
    tool's files is fine with the same settings (the same files are written again) and
    emptied with ``overwrite``; anything else is refused, ``overwrite`` or not.

    Args:
        root: The dataset folder.
        settings: The tool's settings, its name under ``'tool'``.
        expected: The files (relative paths, ``/``-separated) that the tool writes with
            given settings, besides its marker.
        overwrite: Replace a dataset of other settings that the tool wrote.
    """
    tool = settings['tool']
    if osp.exists(root) and not osp.isdir(root):
        raise UserInputError(f'{root!r} is a file, not a folder; give a new folder for the '
                             'dataset.')
    if not osp.isdir(root) or not os.listdir(root):
        return
    previous = _read_marker(osp.join(root, _marker(tool)), tool)
    if previous is None:
        raise UserInputError(f'{root!r} is not empty and was not written by {tool}; give a '
                             'new or empty folder (--overwrite only replaces a folder this '
                             'tool wrote).')
    present = set(_files_under(root))
    foreign = sorted(present - expected(previous) - {_marker(tool)})
    if foreign:
        shown = ', '.join(foreign[:3]) + (f' and {len(foreign) - 3} more'
                                           if len(foreign) > 3 else '')
        raise UserInputError(f'{root!r} holds files that {tool} did not write ({shown}); '
                             'move them away or give another folder.')
    if previous == settings:
        return  # the same dataset: written again, file by file identical
    if not overwrite:
        written = ' '.join(f'--{key.replace("_", "-")} {value}'
                           for key, value in previous.items() if isinstance(value, int))
        raise UserInputError(f'{root!r} already holds a dataset written with {written}; add '
                             '--overwrite to replace it, or give another folder.')
    for name in sorted(present):
        os.remove(osp.join(root, name))
    for folder, _, _ in sorted(os.walk(root), key=lambda item: -len(item[0])):
        if folder != root and not os.listdir(folder):
            os.rmdir(folder)


def _read_marker(path: str, tool: str) -> Optional[dict]:
    try:
        with open(path, encoding='utf-8') as handle:
            settings = json.load(handle)
    except (OSError, ValueError):
        return None
    return settings if isinstance(settings, dict) and settings.get('tool') == tool else None


def _files_under(root: str) -> List[str]:
    """Relative paths ('/'-separated) of the files and links under ``root``."""
    files = []
    for folder, subfolders, names in os.walk(root):
        links = [name for name in subfolders if osp.islink(osp.join(folder, name))]
        for name in names + links:
            files.append(osp.relpath(osp.join(folder, name), root).replace(os.sep, '/'))
    return files


def write_marker(root: str, settings: dict) -> None:
    """Record that the tool ``settings['tool']`` wrote ``root``, with its settings."""
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, _marker(settings['tool'])), 'w', encoding='utf-8') as handle:
        json.dump(settings, handle, indent=1)
        handle.write('\n')

"""The options of the commands that segment images with the user's classes (demo, infer,
the web page; their parsers are in :mod:`mmseg_clipseg_cli`): the class names, the templates
and the background, read into what :func:`mmseg_clipseg.apis.segment` takes."""
import argparse
import os
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Sequence

from mmengine.config import Config

from ..class_names import ClassNames, available_benchmarks, load_class_names
from ..utils.errors import MissingFileError, UserInputError

# A ``--classes`` text ending like a file name (``names.txt``) names a file.
_NAMES_FILE_EXTENSION = re.compile(r'\.[A-Za-z][A-Za-z0-9]{0,4}$')


def looks_like_path(text: str) -> bool:
    """Whether ``--classes`` text names a file rather than classes."""
    if _NAMES_FILE_EXTENSION.search(text):
        return True
    return (',' not in text and ';' not in text
            and ('/' in text or os.sep in text or text.startswith('~')))


def parse_classes(spec: str, option: str = '--classes') -> ClassNames:
    """``--classes``: a names file, a benchmark key, or class names on the command line.

    On the command line, commas separate classes (``"cat, grass, sky"``); when the text has
    a semicolon, semicolons separate classes and commas separate a class's synonyms
    (``"cat, kitty; grass; sky"``).

    Returns:
        One tuple of names per class, the first being the class's name.
    """
    text = spec.strip()
    if osp.isfile(osp.expanduser(text)):
        return load_class_names(osp.expanduser(text))
    if osp.isdir(osp.expanduser(text)):
        raise UserInputError(f'{option} {spec!r} is a folder; give a names file (one class '
                             'per line) or the class names, e.g. "cat, grass, sky".')
    if ',' not in text and ';' not in text and text in available_benchmarks():
        return load_class_names(text)
    if looks_like_path(text):
        raise MissingFileError(
            f'{option} {spec!r} looks like a names file, but there is no such file. Give an '
            'existing file (one class per line), or the names themselves: "cat, grass, sky" '
            '(with synonyms: "cat, kitty; grass; sky").')
    if ',' not in text and ';' not in text:
        raise UserInputError(
            f'{option} {spec!r} is a single class, and one class labels every pixel with '
            'it. Give two or more classes separated by commas ("cat, grass, sky"), a names '
            f'file, or a benchmark key ({", ".join(available_benchmarks())}).')
    if ';' in text:
        entries: List[Any] = text.split(';')
    else:
        entries = [[name] for name in text.split(',')]
    return load_class_names(entries)


def parse_templates(values: Optional[Sequence[str]]) -> Any:
    """``--templates``: one template-set name, or templates with ``{}``."""
    if not values:
        return None
    if len(values) == 1 and '{}' not in values[0]:
        return values[0]
    return list(values)


def vocabulary_options(args: argparse.Namespace, cfg: Config) -> Dict[str, Any]:
    """The keyword arguments of ``segment`` that ``--templates`` and ``--background`` set."""
    background = None if args.background in (None, 'none') else args.background
    if args.background_names is not None and background != 'text':
        raise UserInputError('--background-names name class 0 for --background text; add '
                             '--background text.')
    head = cfg.model.decode_head
    if background is None and (head.get('prob_thd') or head.get('area_thd') is not None):
        raise UserInputError(
            f'The model config sets decode_head.prob_thd={head.get("prob_thd")} / '
            f'area_thd={head.get("area_thd")}, which turn pixels into class 0, the '
            'background: give --background text (class 0 of --classes is the background) or '
            '--cfg-options decode_head.prob_thd=0 decode_head.area_thd=None.')
    return dict(templates=parse_templates(args.templates), background=background,
                background_names=args.background_names)


def set_head_vocabulary(cfg: Config, classes: ClassNames, vocabulary: Dict[str, Any]) -> None:
    """Build the head with the run's classes and background, so that its settings are checked
    together (e.g. ``prob_thd`` with the background) before any image is read."""
    head = cfg.model.decode_head
    head.class_names = [list(names) for names in classes]
    head.background = vocabulary['background']
    head.background_names = vocabulary['background_names']
    if vocabulary['templates'] is not None:
        head.templates = vocabulary['templates']

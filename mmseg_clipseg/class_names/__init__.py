"""Class names of the benchmarks, and parsing of user-given class lists.

A names file has one class per line; a line may list synonyms separated by commas, the first
being the canonical name (e.g. ``person, man, woman``). ``#`` at the start of a line or after
a space starts a comment, which runs to the end of the line (``grass  # lawns too``); a ``#``
inside a name (``c#``) is kept. Blank lines at the end are ignored; a blank line between
classes is an error (it would shift every later class index). The files shipped here are
named after the benchmark keys (``voc20.txt``, ``cityscapes.txt``, ...);
``peers/<peer>/<key>.txt`` are the peers' own.
"""
import os.path as osp
import re
from pathlib import Path
from typing import List, Sequence, Tuple, Union

from ..utils.errors import MissingFileError, UserInputError

ClassNames = List[Tuple[str, ...]]
ClassNamesSpec = Union[str, Sequence[Union[str, Sequence[str]]]]

_NAMES_DIR = Path(__file__).parent
# A comment in a names file: ``#`` at the start of a line or after whitespace, to the end.
_COMMENT = re.compile(r'(^|\s)#.*$')


def available_benchmarks() -> List[str]:
    """Benchmark keys that have a names file in the package."""
    return sorted(path.stem for path in _NAMES_DIR.glob('*.txt'))


def parse_class(entry: Union[str, Sequence[str]], where: str) -> Tuple[str, ...]:
    """One class as a tuple of names: ``'person, man'`` or ``['person', 'man']``."""
    if isinstance(entry, str):
        names = entry.split(',')
    elif isinstance(entry, Sequence) and all(isinstance(name, str) for name in entry):
        names = list(entry)
    else:
        raise UserInputError(f'{where}: a class is a name, comma-separated synonyms or a list '
                             f'of synonyms (strings); got {entry!r}')
    names = tuple(name.strip() for name in names)
    if not names or any(not name for name in names):
        raise UserInputError(f'{where}: empty class name in {entry!r}. Give every class a name; '
                             'synonyms are separated by commas.')
    return names


def _read_names_file(path: str) -> ClassNames:
    try:
        text = Path(path).read_text(encoding='utf-8-sig')
    except UnicodeDecodeError as error:
        raise UserInputError(f'Names file {path!r} is not UTF-8 text ({error.reason} at byte '
                             f'{error.start}); save it as UTF-8.') from error
    lines = [(number, _COMMENT.sub('', line)) for number, line in
             enumerate(text.splitlines(), 1) if not line.lstrip().startswith('#')]
    while lines and not lines[-1][1].strip():
        lines.pop()
    return [parse_class(line, f'{path}, line {number}') for number, line in lines]


def load_class_names(spec: ClassNamesSpec) -> ClassNames:
    """Resolve a class-names spec into a list of classes, each a tuple of synonyms.

    Args:
        spec: A benchmark key (e.g. ``'voc20'``, see :func:`available_benchmarks`), the path
            of a names file, or a list of classes (each a string, synonyms separated by
            commas, or a list of synonyms).

    Returns:
        list[tuple[str, ...]]: One tuple per class; its first name is the canonical one.

    Raises:
        ValueError: Empty list, empty names, or duplicate canonical names.
        FileNotFoundError: ``spec`` is neither a benchmark key nor an existing file.
    """
    if isinstance(spec, str):
        packaged = _NAMES_DIR / f'{spec}.txt'
        if packaged.is_file():
            classes = _read_names_file(str(packaged))
        elif osp.isfile(spec):
            classes = _read_names_file(spec)
        elif osp.isdir(spec):
            raise UserInputError(f'class_names={spec!r} is a folder; give a names file (one '
                                 'class per line) or a benchmark key.')
        else:
            raise MissingFileError(
                f'class_names={spec!r} is neither a benchmark key nor a names file. '
                f'Benchmark keys: {", ".join(available_benchmarks())}; a names file has '
                'one class per line.')
        source = spec
    elif isinstance(spec, Sequence):
        classes = [parse_class(entry, f'class {index}') for index, entry in enumerate(spec)]
        source = 'the class list'
    else:
        raise UserInputError(f'class_names must be a benchmark key, a names file or a list of '
                             f'classes; got {spec!r}')
    if not classes:
        raise UserInputError(f'{source} has no classes; give at least one class name.')
    canonical = [names[0] for names in classes]
    duplicates = sorted({name for name in canonical if canonical.count(name) > 1})
    if duplicates:
        raise UserInputError(f'{source} names these classes more than once: {duplicates}. '
                             'Every class needs a distinct first name.')
    return classes

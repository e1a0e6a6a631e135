"""Values of ``--cfg-options KEY=VALUE``, read in MMEngine's config syntax without evaluating.

A value is first read as a Python expression made only of literals (numbers, strings,
``None``, ``True``/``False``, lists, tuples, ``{...}`` dicts) and ``dict(key=value, ...)``
calls, nested as in a config file: ``dict(steps=10, dilations=(8, 16))``. Nothing is ever
evaluated; any other call is refused. Text that is not such an expression is read as
mmengine's ``DictAction`` reads it, except that spaces inside items are kept: a bare word is a
string (``maskclip``, ``ViT-L-14``, ``/data/my file.bin``), ``true``/``false`` a boolean,
top-level commas make a list (``a,b``), and brackets a list or tuple of such items
(``[big cat, small dog]``). Unbalanced brackets or quotes are an error.
"""
import ast
from typing import Any, List, Optional, Tuple

from ..utils.errors import UserInputError

SYNTAX_HINT = ('Values use the config files\' syntax: 5, 0.1, None, True, \'text\', [3, 4], '
               '(8, 16), dict(steps=10, dilations=(8, 16)).')
_CLOSING = {'(': ')', '[': ']', '{': '}'}
_QUOTES = '\'"'


class _NotLiteral(Exception):
    """A part of the expression is not a literal (``ViT-L-14`` reads as a subtraction): the
    text is read by the bare-word rules instead."""


def parse_option_value(text: str) -> Any:
    """One ``--cfg-options`` value (see the module's docstring).

    Raises:
        UserInputError: Unbalanced brackets or quotes, a call other than ``dict(...)``, or a
            ``dict(...)``/``{...}`` whose items are not ``KEY=VALUE``/``KEY: VALUE``.
    """
    return _parse(text.strip())


def _parse(text: str) -> Any:
    commas, first_closing = _scan(text)
    try:
        tree: Optional[ast.Expression] = ast.parse(text, mode='eval')
    except (SyntaxError, ValueError):  # ValueError: a NUL character
        tree = None
    if tree is not None:
        try:
            value = _literal(tree.body)
        except _NotLiteral:
            pass
        else:
            bare_tuple = isinstance(tree.body, ast.Tuple) and commas
            return list(value) if bare_tuple else value  # `1,2` is a list, as in mmengine
    return _parse_words(text, commas, first_closing)


def _literal(node: ast.AST) -> Any:
    """The value of a literal expression; ``dict(k=v)`` calls are dicts, bare names strings."""
    if isinstance(node, ast.Constant) and node.value is not Ellipsis:
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.List):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(item) for item in node.elts)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise UserInputError(f'{ast.unparse(node)!r}: ** is not allowed in a value.')
        return {_literal(key): _literal(value) for key, value in zip(node.keys, node.values)}
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id == 'dict'):
            raise UserInputError(f'{ast.unparse(node)!r}: a value may call dict(...) only; '
                                 'nothing is evaluated.')
        if node.args or any(keyword.arg is None for keyword in node.keywords):
            raise UserInputError(f'{ast.unparse(node)!r}: dict(...) takes KEY=VALUE items '
                                 'only.')
        return {keyword.arg: _literal(keyword.value) for keyword in node.keywords}
    if isinstance(node, ast.Name):
        return _word(node.id)
    raise _NotLiteral


def _parse_words(text: str, commas: List[int], first_closing: Optional[int]) -> Any:
    """Text that is not a literal expression: mmengine's reading, spaces kept."""
    enclosed = first_closing == len(text) - 1
    if enclosed and text[0] in '[(':
        items = _split(text[1:-1])
        values = [_parse(item) for item in items]
        return tuple(values) if text[0] == '(' else values
    if enclosed:
        raise UserInputError(f'{text!r} is not a dict: write {{\'key\': value}} with quoted '
                             'keys, or dict(key=value).')
    if text.startswith('dict(') and _scan(text[4:])[1] == len(text) - 5:
        return dict(_keyword(item) for item in _split(text[5:-1]))
    if commas:
        return [_parse(item) for item in _split(text)]
    return _word(text)


def _keyword(item: str) -> Tuple[str, Any]:
    key, separator, value = item.partition('=')
    if not separator or not key.strip().isidentifier():
        raise UserInputError(f'{item!r} in dict(...) is not KEY=VALUE.')
    return key.strip(), _parse(value.strip())


def _word(text: str) -> Any:
    """A bare word: a number, true/false (any case), None, or else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.lower() in ('true', 'false'):
        return text.lower() == 'true'
    return None if text == 'None' else text


def _split(text: str) -> List[str]:
    """The items of a comma-separated text (commas inside brackets or quotes do not count);
    a trailing comma ends the last item, an empty item elsewhere is an error."""
    commas, _ = _scan(text)
    bounds = [-1, *commas, len(text)]
    items = [text[start + 1:end].strip() for start, end in zip(bounds, bounds[1:])]
    if items and not items[-1] and len(items) > 1:
        items.pop()
    if items == ['']:
        return []
    if '' in items:
        raise UserInputError(f'{text!r} has an empty item between two commas.')
    return items


def _scan(text: str) -> Tuple[List[int], Optional[int]]:
    """The positions of the top-level commas of ``text``, and of the bracket that closes its
    first character when that is an opening bracket.

    Raises:
        UserInputError: A bracket that is never closed or closes nothing, or an unclosed quote.
    """
    commas: List[int] = []
    first_closing = None
    stack: List[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in _QUOTES:
            end = index + 1
            while end < len(text) and text[end] != char:
                end += 2 if text[end] == '\\' else 1
            if end >= len(text):
                raise UserInputError(f'{text!r}: the quote {char} at character {index + 1} '
                                     'is never closed.')
            index = end
        elif char in _CLOSING:
            stack.append(char)
        elif char in _CLOSING.values():
            if not stack or _CLOSING[stack[-1]] != char:
                raise UserInputError(f'{text!r}: the {char!r} at character {index + 1} '
                                     'closes no bracket.')
            stack.pop()
            if not stack and first_closing is None and text[0] in _CLOSING:
                first_closing = index
        elif char == ',' and not stack:
            commas.append(index)
        index += 1
    if stack:
        raise UserInputError(f'{text!r}: the {stack[-1]!r} is never closed.')
    return commas, first_closing

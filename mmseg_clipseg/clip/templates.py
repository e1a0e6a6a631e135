"""Prompt template sets: a name of a set, or an explicit list with ``{}`` for the class."""
from typing import Dict, List, Sequence, Tuple, Union

from open_clip import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

from ..utils.errors import UserInputError

TemplatesSpec = Union[str, Sequence[str]]


def _as_format_strings(templates: Sequence) -> Tuple[str, ...]:
    # open_clip stores templates as lambdas; applied to '{}' they give format strings.
    return tuple(template('{}') for template in templates)


TEMPLATE_SETS: Dict[str, Tuple[str, ...]] = {
    'openai_imagenet': _as_format_strings(OPENAI_IMAGENET_TEMPLATES),
    'simple_imagenet': _as_format_strings(SIMPLE_IMAGENET_TEMPLATES),
    'photo': ('a photo of a {}.', ),
}


def resolve_templates(spec: TemplatesSpec) -> List[str]:
    """Turn a template-set name or a list of templates into a list of format strings.

    Args:
        spec: A key of :data:`TEMPLATE_SETS` (default in configs: ``'openai_imagenet'``, the
            80 templates of OpenAI's ImageNet zero-shot evaluation), or a list of strings each
            containing ``{}`` exactly once where the class name goes.
    """
    if isinstance(spec, str):
        if spec not in TEMPLATE_SETS:
            raise UserInputError(f'Unknown template set {spec!r}; known sets: '
                                 f'{", ".join(TEMPLATE_SETS)}, or give a list of strings '
                                 'with {}.')
        return list(TEMPLATE_SETS[spec])
    templates = list(spec)
    if not templates:
        raise UserInputError('templates is empty; give a template-set name or at least one '
                             'template such as "a photo of a {}."')
    for template in templates:
        if not isinstance(template, str) or template.count('{}') != 1:
            raise UserInputError(f'Template {template!r} must be a string with exactly one {{}} '
                                 'where the class name goes, e.g. "a photo of a {}."')
    return templates


def fill_template(template: str, name: str) -> str:
    """Put a class name into a template (``str.format`` would choke on braces in names)."""
    return template.replace('{}', name)

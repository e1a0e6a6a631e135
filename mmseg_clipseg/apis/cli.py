"""Helpers shared by the command-line tools: config loading, option parsing and checks that
turn a user's mistake into one clear line instead of a traceback or a silently wrong run."""
import difflib
import inspect
import os
import os.path as osp
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from mmengine.config import Config

from ..utils.errors import MissingFileError, UserInputError
from .option_values import SYNTAX_HINT, parse_option_value


def parse_cfg_options(pairs: Optional[Sequence[str]],
                      option: str = '--cfg-options') -> Dict[str, Any]:
    """``--cfg-options KEY=VALUE ...`` strings into a dict, values in the config files' syntax.

    The tools' argument parsers keep the strings (they stay free of this package, so that
    ``--help`` answers without importing torch); this reads them afterwards. A value is read
    by :func:`~mmseg_clipseg.apis.option_values.parse_option_value`: Python literals and
    ``dict(key=value)`` as in a config (``"model.clip=dict(model_name='ViT-L-14',
    pretrained='openai')"``, ``(448, 448)``, ``None``), otherwise as mmengine's ``DictAction``
    reads it (``a,b`` is a list, ``true`` a bool, other text a string) but with the spaces
    inside values kept (``DictAction`` would turn ``['a photo of {}.']`` into
    ``aphotoof{}.``). A pair or value that does not parse is one :class:`UserInputError` line.
    """
    options: Dict[str, Any] = {}
    for item in pairs or ():
        key, separator, text = item.partition('=')
        if not separator or not key:
            raise UserInputError(f'{option} takes KEY=VALUE pairs; got {item!r}')
        try:
            options[key] = parse_option_value(text)
        except UserInputError as error:
            raise UserInputError(f'{option} {item}: {error} {SYNTAX_HINT}') from error
    return options


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, [str(choice) for choice in choices], n=3,
                                      cutoff=0.6)
    return f' Did you mean {" or ".join(map(repr, close))}?' if close else ''


def check_option_keys(cfg: Config, options: Mapping[str, Any]) -> None:
    """Refuse ``--cfg-options`` keys whose path does not exist in the config.

    Every part of a dotted key but the last must exist (``modell.backbone.x`` is refused); a
    new last part is allowed (a setting the config leaves at its default): the component that
    reads it checks it (:func:`check_model_settings`, the segmentor's ``test_cfg`` check, the
    backbone's ``cra``/``dsi`` checks).
    """
    for key in options:
        node: Any = cfg._cfg_dict if isinstance(cfg, Config) else cfg
        parts = key.split('.')
        for depth, part in enumerate(parts):
            where = '.'.join(parts[:depth]) or 'the config'
            last = depth == len(parts) - 1
            if isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    raise UserInputError(f'--cfg-options {key}: {where} is a list of '
                                         f'{len(node)}; index it with 0..{len(node) - 1}.')
                node = node[int(part)]
                continue
            if not isinstance(node, Mapping):
                raise UserInputError(f'--cfg-options {key}: {where} is a {type(node).__name__}'
                                     f', not a group of settings.')
            if part in node:
                node = node[part]
                continue
            if last:
                break
            siblings = [name for name in node if not str(name).startswith('_')]
            hint = _did_you_mean(part, siblings) or f' Its settings: {", ".join(siblings)}.'
            raise UserInputError(f'--cfg-options {key}: {where} has no setting {part!r}.{hint}')


def _accepted_arguments(cls: type) -> Optional[set]:
    """The keyword arguments a class's constructor accepts, following ``**kwargs`` into its
    base classes; None when they cannot be known (a ``**kwargs`` that goes nowhere)."""
    accepted: set = set()
    for klass in cls.__mro__:
        if '__init__' not in vars(klass) or klass is object:
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        accepted.update(parameter.name for parameter in parameters
                        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD,
                                              parameter.KEYWORD_ONLY))
        if not any(parameter.kind == parameter.VAR_KEYWORD for parameter in parameters):
            return accepted - {'self'}
    return None


def check_model_settings(settings: Any, where: str = 'model') -> None:
    """Refuse settings that the registered model components do not take (a typo under
    ``model.backbone`` would otherwise end in a TypeError traceback)."""
    from mmseg.registry import MODELS
    if isinstance(settings, (list, tuple)):
        for index, item in enumerate(settings):
            check_model_settings(item, f'{where}.{index}')
        return
    if not isinstance(settings, Mapping):
        return
    type_name = settings.get('type')
    cls = MODELS.get(type_name) if isinstance(type_name, str) else None
    if isinstance(type_name, str) and cls is None:
        known = [name for name in MODELS.module_dict]
        raise UserInputError(f'{where}.type={type_name!r} is not a registered model '
                             f'component.{_did_you_mean(type_name, known)}')
    accepted = _accepted_arguments(cls) if inspect.isclass(cls) else None
    for name, value in settings.items():
        if name in ('type', '_scope_'):
            continue
        removed = getattr(cls, 'REMOVED_SETTINGS', {})
        if name in removed:  # a setting that was replaced: say by what
            raise UserInputError(removed[name])
        if accepted is not None and name not in accepted:
            hint = _did_you_mean(name, sorted(accepted)) \
                or f' It takes: {", ".join(sorted(accepted - {"init_cfg"}))}.'
            raise UserInputError(f'{where}.{name}: {type_name} has no setting {name!r}.{hint}')
        check_model_settings(value, f'{where}.{name}')


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None,
                data_root: Optional[str] = None) -> Config:
    """Read a config, check and apply ``--cfg-options``, and point the test set at
    ``data_root``."""
    if osp.isdir(path):
        raise UserInputError(f'Config {path!r} is a folder, not a file; configs are files '
                             'under configs/, e.g. configs/clipseg_vitb_voc20.py.')
    if not osp.isfile(path):
        raise MissingFileError(f'Config file {path!r} does not exist; configs are under '
                               'configs/, e.g. configs/clipseg_vitb_voc20.py.')
    try:
        cfg = Config.fromfile(path)
    except (SyntaxError, NameError, ImportError, KeyError, TypeError) as error:
        raise UserInputError(f'Could not read config {path!r}: {error}') from error
    if cfg_options:
        check_option_keys(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if 'model' in cfg:
        _import_custom_modules(cfg)
        check_model_settings(cfg.model)
    if data_root is not None:
        cfg.test_dataloader.dataset.data_root = data_root
    return cfg


def _import_custom_modules(cfg: Config) -> None:
    """Register the config's ``custom_imports`` (our package) and its default scope, so that
    model types can be looked up before the runner exists."""
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    imports = cfg.get('custom_imports')
    if imports:
        import_modules_from_strings(**imports)
    init_default_scope(cfg.get('default_scope', 'mmseg'))


def check_data_root(cfg: Config) -> None:
    """Fail with a clear message when the test dataset's folder is missing."""
    dataset = cfg.test_dataloader.dataset
    root = dataset.get('data_root', '')
    if osp.isfile(root):
        raise UserInputError(f'Dataset root {root!r} is a file, not a folder; give the '
                             'dataset folder with --data-root PATH.')
    if not osp.isdir(root):
        raise MissingFileError(
            f'Dataset folder {root!r} (test_dataloader.dataset.data_root) does not exist. '
            'Point the config at your copy with --data-root PATH; docs/datasets.md shows '
            'how to download and convert each benchmark.')
    prefixes: Sequence[str] = dataset.get('data_prefix', {}).values()
    for prefix in prefixes:
        if prefix and not osp.isdir(osp.join(root, prefix)):
            raise MissingFileError(
                f'Dataset folder {root!r} has no {prefix!r} subfolder; is it the right '
                'dataset, converted as docs/datasets.md describes?')
    ann_file = dataset.get('ann_file')
    if ann_file and not osp.isfile(osp.join(root, ann_file)):
        raise MissingFileError(f'Dataset folder {root!r} has no split file {ann_file!r}.')


def run_cli(main: Callable[[Optional[List[str]]], None],
            argv: Optional[List[str]] = None) -> int:
    """Run a tool's ``main``; print a user mistake as one ``error:`` line, no traceback.

    Set ``MMSEG_CLIPSEG_DEBUG=1`` to get the traceback anyway (a developer's switch: the
    message of a user mistake says all a user needs, so it is not advertised there; any
    other error keeps its traceback).

    Returns:
        int: The exit status: 0 on success, 1 after a user mistake.
    """
    try:
        main(argv)
    except UserInputError as error:
        if os.environ.get('MMSEG_CLIPSEG_DEBUG'):
            raise
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0

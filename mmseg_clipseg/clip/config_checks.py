"""Checks of a :class:`~.config.CLIPConfig` before open_clip is asked to build it: each
mistake (an unknown name or tag, a missing file or folder, ``pretrained`` where the name
brings its own weights) as one line that says what to give instead."""
import difflib
import os.path as osp

import open_clip

from ..utils.errors import MissingFileError, UserInputError
from .config import (HF_HUB_PREFIX, LOCAL_DIR_CONFIG, LOCAL_DIR_PREFIX, LOCAL_DIR_WEIGHT_GLOBS,
                     CLIPConfig, local_dir_weight_files, packaged_weights)

__all__ = ['check_checkpoint_file', 'check_local_dir', 'check_model_name', 'check_no_pretrained',
           'check_pretrained_tag']


def check_model_name(model_name: str) -> None:
    """Refuse a name open_clip does not list (names with a prefix are checked apart)."""
    available = open_clip.list_models()
    if model_name not in available:
        close = difflib.get_close_matches(model_name, available, n=5)
        hint = f' Did you mean: {", ".join(close)}?' if close else ''
        raise UserInputError(
            f'Unknown open_clip model {model_name!r}.{hint} open_clip.list_models() lists all '
            f'names; a folder with {LOCAL_DIR_CONFIG} is "{LOCAL_DIR_PREFIX}/path/to/folder", '
            f'a hub repository "{HF_HUB_PREFIX}org/repo".')


def check_no_pretrained(config: CLIPConfig) -> None:
    """Refuse ``pretrained`` with a ``local-dir:`` or ``hf-hub:`` name (open_clip would
    ignore it)."""
    if config.pretrained is not None:
        raise UserInputError(
            f'model_name {config.model_name!r} brings its own weights; leave pretrained '
            f'unset instead of {config.pretrained!r}.')


def check_local_dir(folder: str) -> None:
    if not osp.isdir(folder):
        if osp.exists(folder):
            raise UserInputError(f'{LOCAL_DIR_PREFIX} {folder!r} is a file, not a folder. '
                                 'For a checkpoint file set pretrained to its path instead.')
        raise MissingFileError(f'The {LOCAL_DIR_PREFIX} folder {folder!r} does not exist.')
    if not osp.isfile(osp.join(folder, LOCAL_DIR_CONFIG)):
        raise MissingFileError(
            f'The {LOCAL_DIR_PREFIX} folder {folder!r} has no {LOCAL_DIR_CONFIG} (open_clip '
            'reads the architecture from it: {"model_cfg": {...}, "preprocess_cfg": {...}}).')
    if not local_dir_weight_files(folder):
        raise MissingFileError(
            f'The {LOCAL_DIR_PREFIX} folder {folder!r} has no weights file (open_clip looks '
            f'for {", ".join(LOCAL_DIR_WEIGHT_GLOBS)}, e.g. open_clip_model.safetensors).')


def known_tags(model_name: str) -> list:
    return open_clip.list_pretrained_tags_by_model(model_name) + list(
        packaged_weights(model_name))


def check_pretrained_tag(model_name: str, tag: str) -> None:
    tags = known_tags(model_name)
    if tag not in tags:
        raise UserInputError(
            f'{tag!r} is neither an existing checkpoint file nor a pretrained tag of '
            f'{model_name!r}. Tags of {model_name}: {", ".join(tags) or "none"}. '
            'For a local checkpoint give its path.')


def check_checkpoint_file(config: CLIPConfig, path: str) -> None:
    """Refuse a ``pretrained`` path that is a folder or does not exist, saying what to give
    instead."""
    if osp.isdir(path):
        hint = (f' It holds {LOCAL_DIR_CONFIG}: use model_name="{LOCAL_DIR_PREFIX}{path}" '
                'and no pretrained.' if osp.isfile(osp.join(path, LOCAL_DIR_CONFIG))
                else ' Give the checkpoint file inside it.')
        raise UserInputError(f'CLIP checkpoint {config.pretrained!r} is a folder, not a '
                             f'file.{hint}')
    if not osp.isfile(path):
        raise MissingFileError(
            f'CLIP checkpoint file {config.pretrained!r} does not exist. Give the path of a '
            f'downloaded checkpoint, or a pretrained tag of {config.model_name!r}: '
            f'{", ".join(known_tags(config.model_name)) or "none"}.')

"""Which CLIP model to load (:class:`CLIPConfig`), where its weights are, and a string that
changes whenever they change (for caches): local files are named by their content's digest.
"""
import dataclasses
import os
import os.path as osp
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from open_clip.constants import HF_CONFIG_NAME
from open_clip.factory import HF_HUB_PREFIX, LOCAL_DIR_PREFIX

from ..utils.errors import UserInputError
from .file_digest import content_digest

# Checkpoint file endings; any of them may be followed by '.gz' (gzip-compressed).
_CHECKPOINT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')
# Weights shipped inside the package, used like open_clip tags: <model_name>__<tag>.<suffix>.
PACKAGED_WEIGHTS_DIR = Path(__file__).parent / 'weights'
# The architecture file of an open_clip model folder, local (LOCAL_DIR_PREFIX) or on the hub
# (HF_HUB_PREFIX): 'open_clip_config.json'.
LOCAL_DIR_CONFIG = HF_CONFIG_NAME
# The weight files open_clip looks for in a local-dir folder (it picks one of them).
LOCAL_DIR_WEIGHT_GLOBS = ('*.safetensors', '*.bin', '*.pth')


@dataclasses.dataclass(frozen=True)
class CLIPConfig:
    """Which CLIP model to use.

    Args:
        model_name: An open_clip model name, e.g. ``'ViT-B-16'``; or
            ``'local-dir:/path/to/folder'``, a folder holding open_clip's
            ``open_clip_config.json`` and a weights file (e.g.
            ``open_clip_model.safetensors``); or ``'hf-hub:org/repo'``, such a folder on
            the Hugging Face Hub. The last two bring their own weights: leave
            ``pretrained`` unset.
        pretrained: An open_clip pretrained tag (e.g. ``'openai'``), a tag of weights
            shipped with this package, the path of a local checkpoint file (``.pt``,
            ``.pth``, ``.bin``, ``.safetensors``, OpenAI's TorchScript ``.pt``; each may be
            ``.gz``), or None for random initialisation (tests, offline smoke runs).
        quick_gelu: Force QuickGELU activations, as OpenAI's CLIP uses. Needed when an
            OpenAI checkpoint is loaded from a file into a model name without
            ``-quickgelu``; models named ``-quickgelu`` use QuickGELU either way.
        init_seed: Seed of the random initialisation when ``pretrained`` is None, so that
            every process builds the same random model.
        cache_dir: Where open_clip puts downloaded weights (tags, ``hf-hub:``); None for
            open_clip's default.
    """
    model_name: str
    pretrained: Optional[str] = None
    quick_gelu: bool = False
    init_seed: int = 0
    cache_dir: Optional[str] = None

    def __post_init__(self):
        if isinstance(self.model_name, str) and self.model_name.startswith(LOCAL_DIR_PREFIX):
            folder = osp.expanduser(self.model_name[len(LOCAL_DIR_PREFIX):])
            object.__setattr__(self, 'model_name', LOCAL_DIR_PREFIX + folder)

    @classmethod
    def from_value(cls, value: Union['CLIPConfig', Mapping[str, Any]]) -> 'CLIPConfig':
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise UserInputError(f'clip must be a dict like dict(model_name="ViT-B-16", '
                                 f'pretrained="openai"), got {value!r}')
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(value) - fields)
        if unknown:
            raise UserInputError(f'Unknown clip setting(s) {unknown}; known: {sorted(fields)}')
        if 'model_name' not in value:
            raise UserInputError('clip.model_name is required, e.g. "ViT-B-16"')
        return cls(**value)

    @property
    def local_dir(self) -> Optional[str]:
        """The folder of a ``local-dir:`` model name."""
        if self.model_name.startswith(LOCAL_DIR_PREFIX):
            return self.model_name[len(LOCAL_DIR_PREFIX):]
        return None

    @property
    def is_hf_hub(self) -> bool:
        return self.model_name.startswith(HF_HUB_PREFIX)

    @property
    def hub_repo(self) -> Optional[str]:
        """The repository of an ``hf-hub:`` model name (empty if none is given)."""
        return self.model_name[len(HF_HUB_PREFIX):].strip('/') if self.is_hf_hub else None

    @property
    def pretrained_is_file(self) -> bool:
        """Whether ``pretrained`` names a local or packaged file rather than an open_clip
        tag."""
        return self.checkpoint_path is not None

    @property
    def checkpoint_path(self) -> Optional[str]:
        """The checkpoint file to read, if ``pretrained`` is a path or a packaged tag."""
        if self.pretrained is None:
            return None
        packaged = packaged_weights(self.model_name).get(self.pretrained)
        if packaged is not None:
            return str(packaged)
        return osp.expanduser(self.pretrained) if _looks_like_path(self.pretrained) else None

    def weights_identity(self) -> str:
        """A string that changes whenever the weights change (for caches).

        Local files (a checkpoint, a packaged tag, a ``local-dir:`` folder's files) count by
        their content (:func:`~.file_digest.content_digest`, hashed once per process per
        state of the file), so a file rewritten in place with the same size and time stamp
        gets a new identity. Tags and ``hf-hub:`` names count by name.
        """
        qg = f'qg={self.quick_gelu}'
        if self.local_dir is not None:
            folder = osp.abspath(self.local_dir)
            files = [LOCAL_DIR_CONFIG] + local_dir_weight_files(folder)
            return f'local-dir={folder}|' + '|'.join(
                _file_identity(osp.join(folder, name), name) for name in files) + f'|{qg}'
        if self.is_hf_hub:
            return f'{self.model_name}|{qg}'
        if self.pretrained is None:
            return f'{self.model_name}|random|seed={self.init_seed}|{qg}'
        path = self.checkpoint_path
        if path is not None:
            path = osp.abspath(path)
            return f'{self.model_name}|file={_file_identity(path, path)}|{qg}'
        return f'{self.model_name}|tag={self.pretrained}|{qg}'


def _file_identity(path: str, name: str) -> str:
    return f'{name}:sha256={content_digest(path)}'


def local_dir_weight_files(folder: str) -> List[str]:
    """The names of the files in ``folder`` that open_clip may read as its weights."""
    return sorted({path.name for pattern in LOCAL_DIR_WEIGHT_GLOBS
                   for path in Path(folder).glob(pattern)})


def packaged_weights(model_name: str) -> Dict[str, Path]:
    """Tags of the weights shipped with the package for ``model_name``, and their files."""
    prefix = f'{model_name}__'
    return {path.name[len(prefix):].split('.')[0]: path
            for path in sorted(PACKAGED_WEIGHTS_DIR.glob(f'{prefix}*'))
            if set(path.suffixes) & set(_CHECKPOINT_SUFFIXES)}


def _looks_like_path(pretrained: str) -> bool:
    return (os.sep in pretrained or '/' in pretrained or pretrained.startswith('~')
            or pretrained.removesuffix('.gz').endswith(_CHECKPOINT_SUFFIXES)
            or osp.exists(pretrained))

"""Label a collection of images with your own class names: one label PNG per image.

    python tools/infer.py photos/ --recursive --classes "road; car, truck; sky" --out-dir labels
    python tools/infer.py "shots/*.jpg" @more_images.txt --classes voc20 --out-dir labels
    torchrun --nproc_per_node 4 tools/infer.py photos/ -r --classes ade150 --out-dir labels

Inputs: image files, folders (their images; sub-folders too with --recursive), glob
patterns ("shots/**/*.jpg", quoted so that the shell leaves them alone), and list files
(@list.txt or --list list.txt: one input per line, relative to the current folder; blank
lines and lines starting with # are skipped). Folders and globs take the files with an
image extension (.jpg, .png, .tif, ...), and skip hidden files and the --out-dir folder.

Classes (--classes): comma-separated names ("cat, grass, sky"); with synonyms, classes
separated by semicolons and a class's synonyms by commas ("cat, kitty; grass, lawn; sky",
the first name of a class is its name); a names file (one class per line, synonyms after
commas); or a benchmark key (voc20, ade150, cityscapes, ...).

Outputs, under --out-dir, named after the image: a file x.jpg becomes x.png; an image found
in a folder or by a glob keeps its path below the folder or the glob's fixed part
(photos/a/x.jpg, from the folder photos or from "photos/**/*.jpg", becomes a/x.png):
  NAME.png  the class index of every pixel, at the image's size: a palette PNG (8-bit, the
            package's label colours) for up to 256 classes, a 16-bit grey PNG beyond;
  NAME.npy  with --probabilities: every class's probability, float16, shape (K, H, W), K
            classes in --classes order (numpy.load reads it);
  infer_settings.json  the classes (index order), model and options of the run.

Resume: running the same command again skips the images whose outputs are complete (each
file is written under a temporary name and renamed when complete); a run with other
settings into the same --out-dir is refused unless --overwrite (which redoes every image).
Under torchrun each process labels its share of the sorted images (every rank-th image).
"""
import argparse
import dataclasses
import glob
import json
import os
import os.path as osp
import re
import socket
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import mmseg_clipseg  # noqa: F401  (first: installs the mmcv-lite shim, registers modules)
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from mmseg_clipseg.cli import (ConfigOptionsAction, check_model_settings, check_option_keys,
                               load_config, run_cli)
from mmseg_clipseg.class_names import ClassNames, available_benchmarks, load_class_names
from mmseg_clipseg.errors import MissingFileError, UserInputError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.bmp', '.tif', '.tiff',
                    '.webp', '.gif', '.ppm', '.pgm', '.pbm', '.pnm', '.jp2')
SETTINGS_FILE = 'infer_settings.json'
# A file that is still being written: hidden, next to its final name.
PARTIAL_SUFFIX = '.partial'
_NAMES_FILE_EXTENSION = re.compile(r'\.[A-Za-z][A-Za-z0-9]{0,4}$')
# How long the reachability check of the weights' server may take.
_NETWORK_TIMEOUT_S = 3.0


# --- Class names ------------------------------------------------------------------------

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


# --- Inputs -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ImageItem:
    """One input image.

    Attributes:
        path: The file, as the user named it (or as found in a folder).
        name: Its output name below ``--out-dir``, without extension, with ``/``.
    """
    path: str
    name: str


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
        more = f' and {len(bad) - 3} more' if len(bad) > 3 else ''
        raise UserInputError(f'{len(bad)} input(s) cannot be read as images: '
                             f'{", ".join(bad[:3])}{more}. Give JPEG, PNG, TIFF, BMP or WebP '
                             'images.')


def check_not_inputs(outputs: Sequence[str], items: Sequence[ImageItem]) -> None:
    """Refuse an output file that is one of the input images."""
    inputs = {osp.realpath(item.path): item.path for item in items}
    for output in outputs:
        if osp.realpath(output) in inputs:
            raise UserInputError(f'The output {output!r} is the input image '
                                 f'{inputs[osp.realpath(output)]!r}; give another --out-dir '
                                 '(or --out) so that the image is not overwritten.')


# --- Model ------------------------------------------------------------------------------

def _model_option_key(key: str, cfg: Any) -> str:
    """A ``--cfg-options`` key as a config path: ``model.`` keys and other top-level keys
    (``test_pipeline...``) as given, model settings (``backbone.dense_mode``) below
    ``model``."""
    first = key.split('.')[0]
    if first == 'model':
        return key
    if first in cfg.model or first not in cfg:
        return f'model.{key}'
    return key


def model_config(model: str, cfg_options: Optional[Dict[str, Any]] = None
                 ) -> Tuple[Any, Dict[str, Any]]:
    """The config of ``--model`` (a short name or a config file) with ``--cfg-options``, and
    the options as config paths."""
    from mmseg_clipseg.apis import MODEL_CONFIGS, config_root
    if model in MODEL_CONFIGS:
        path = str(config_root() / MODEL_CONFIGS[model])
    elif osp.exists(model) or model.endswith('.py'):
        path = model
    else:
        raise UserInputError(f'Unknown --model {model!r}: give a short name '
                             f'({", ".join(MODEL_CONFIGS)}) or a config file.')
    cfg = load_config(path)
    options = {_model_option_key(key, cfg): value for key, value in (cfg_options or {}).items()}
    if options:
        check_option_keys(cfg, options)
        cfg.merge_from_dict(options)
        check_model_settings(cfg.model)
    return cfg, options


def check_device(device: Optional[str]) -> Optional[str]:
    """``--device`` checked before anything is built."""
    if device is None:
        return None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise UserInputError(f'--device {device!r} is not a device; use cpu or cuda (or '
                             'cuda:N).') from error
    if parsed.type == 'cuda' and not torch.cuda.is_available():
        raise UserInputError(f'--device {device} was asked for, but PyTorch sees no CUDA GPU '
                             'here; use --device cpu.')
    if parsed.type == 'cuda' and parsed.index is not None \
            and parsed.index >= torch.cuda.device_count():
        raise UserInputError(f'--device {device}: this machine has '
                             f'{torch.cuda.device_count()} GPU(s), cuda:0..'
                             f'cuda:{torch.cuda.device_count() - 1}.')
    return device


def _hub_files_cached(repo: str, names: Sequence[str], cache_dir: Optional[str]) -> bool:
    from huggingface_hub import try_to_load_from_cache
    return any(isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str)
               for name in names)


def _weights_need_download(clip: Dict[str, Any]) -> Optional[str]:
    """The server the CLIP weights come from if they are not on this machine, else None."""
    import open_clip

    from mmseg_clipseg.clip.loader import CLIPConfig
    try:
        config = CLIPConfig.from_value(dict(clip))
    except UserInputError:
        return None  # the loader reports it
    cache_dir = osp.expanduser(config.cache_dir) if config.cache_dir else None
    if config.local_dir is not None or (config.pretrained is None and not config.is_hf_hub):
        return None
    if config.is_hf_hub:
        repo = config.model_name[len('hf-hub:'):].strip('/')
        cached = _hub_files_cached(repo, ['open_clip_config.json'], cache_dir) and \
            _hub_files_cached(repo, ['open_clip_model.safetensors',
                                     'open_clip_pytorch_model.bin'], cache_dir)
        return None if cached else 'hub'
    if config.pretrained_is_file:
        return None
    source = open_clip.get_pretrained_cfg(config.model_name, config.pretrained)
    if not source or 'file' in source:
        return None  # an unknown tag: the loader lists the known ones
    url = source.get('url', '')
    if url and osp.isfile(osp.join(cache_dir or osp.expanduser('~/.cache/clip'),
                                   osp.basename(url))):
        return None
    if source.get('hf_hub'):
        repo, name = osp.split(source['hf_hub'])
        name = name or 'open_clip_pytorch_model.bin'
        safe = [osp.splitext(name)[0].replace('pytorch_model', 'model') + '.safetensors']
        if _hub_files_cached(repo, [*safe, name], cache_dir):
            return None
        return 'hub'
    return url or None


def _reachable(url: str) -> Optional[str]:
    """None if a TCP connection to ``url``'s host opens within a few seconds, else why not."""
    from urllib.parse import urlparse
    parsed = urlparse(url if '//' in url else f'https://{url}')
    host, port = parsed.hostname or url, parsed.port or (80 if parsed.scheme == 'http' else 443)
    outcome: List[str] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=_NETWORK_TIMEOUT_S).close()
            outcome.append('')
        except OSError as error:
            outcome.append(f'{type(error).__name__}: {error}')

    thread = threading.Thread(target=connect, daemon=True)  # name lookups ignore timeouts
    thread.start()
    thread.join(_NETWORK_TIMEOUT_S + 0.5)
    if not outcome:
        return f'no answer from {host} within {_NETWORK_TIMEOUT_S:.0f} s'
    return outcome[0] or None


def check_weights_reachable(cfg: Any, model: str) -> None:
    """Fail fast, with a clear line, when the CLIP weights must be downloaded and their
    server cannot be reached (instead of a minute of download retries)."""
    source = _weights_need_download(cfg.model.get('clip', {}))
    if source is None:
        return
    from huggingface_hub import constants
    if source == 'hub' and constants.HF_HUB_OFFLINE:
        reason = 'HF_HUB_OFFLINE is set'
    else:
        server = constants.ENDPOINT if source == 'hub' else source
        reason = _reachable(server)
        if reason is None:
            return
        reason = f'{server} cannot be reached ({reason})'
    clip = cfg.model.clip
    raise UserInputError(
        f'--model {model} needs the CLIP weights {clip.model_name} ({clip.pretrained}), which '
        f'are not on this machine, and {reason}. Offline: download the checkpoint elsewhere '
        'and give it with --cfg-options clip.pretrained=/path/to/checkpoint, or try the '
        'offline model --model tiny-synthetic (synthetic scenes only).')


# --- Outputs ----------------------------------------------------------------------------

def label_image(labels: np.ndarray, num_classes: int) -> Image.Image:
    """Labels (H, W) as a palette image (<= 256 classes) or a 16-bit grey image."""
    from mmseg_clipseg.datasets.palette import label_colormap
    if num_classes <= 256:
        image = Image.fromarray(labels.astype(np.uint8))
        image.putpalette([value for colour in label_colormap(num_classes)
                          for value in colour])
        return image
    return Image.fromarray(labels.astype(np.uint16))


def partial_path(path: str) -> str:
    """A hidden temporary name next to ``path``, unique to this process."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}.{os.getpid()}{PARTIAL_SUFFIX}')


def remove_partials(path: str) -> None:
    """Delete what an interrupted run left while writing ``path``."""
    folder, name = osp.split(path)
    for leftover in glob.glob(osp.join(glob.escape(folder),
                                       f'.{glob.escape(name)}.*{PARTIAL_SUFFIX}')):
        try:
            os.remove(leftover)
        except OSError:
            pass


def write_atomically(path: str, write) -> None:
    """``write(temporary_path)``, then rename: ``path`` exists only once complete."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    temporary = partial_path(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if osp.exists(temporary):
            os.remove(temporary)


def _save_npy(array: np.ndarray):
    def write(path: str) -> None:
        with open(path, 'wb') as handle:
            np.save(handle, array)
    return write


def read_settings(out_dir: str) -> Optional[Dict[str, Any]]:
    path = osp.join(out_dir, SETTINGS_FILE)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise UserInputError(f'{path!r} cannot be read ({error}); remove it, or give another '
                             '--out-dir.') from error


def write_settings(out_dir: str, settings: Dict[str, Any]) -> None:
    text = json.dumps(settings, indent=1, ensure_ascii=False) + '\n'

    def write(path: str) -> None:
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
    write_atomically(osp.join(out_dir, SETTINGS_FILE), write)


def check_resume(out_dir: str, items: Sequence[ImageItem], settings: Dict[str, Any],
                 overwrite: bool) -> None:
    """Refuse an ``--out-dir`` with outputs of other settings, or outputs of unknown origin;
    record the settings."""
    # Outputs first, then the settings: a run writes its settings before any output.
    existing = [label_path(out_dir, item) for item in items
                if osp.exists(label_path(out_dir, item))]
    recorded = read_settings(out_dir)
    if not overwrite:
        if recorded is None and existing:
            more = f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''
            raise UserInputError(
                f'--out-dir {out_dir!r} already holds {existing[0]!r}{more} but no '
                f'{SETTINGS_FILE}, so they were not written by this tool. Give another '
                '--out-dir, or --overwrite to replace them.')
        if recorded is not None and recorded != settings:
            differ = [key for key in settings if recorded.get(key) != settings[key]]
            raise UserInputError(
                f'--out-dir {out_dir!r} holds labels made with other settings '
                f'({", ".join(differ) or "version"} differ; see {SETTINGS_FILE}). Give another '
                '--out-dir to keep both, or --overwrite to redo every image.')
    if overwrite or recorded != settings:
        write_settings(out_dir, settings)


def label_path(out_dir: str, item: ImageItem) -> str:
    return osp.join(out_dir, *item.name.split('/')) + '.png'


def probabilities_path(out_dir: str, item: ImageItem) -> str:
    return osp.join(out_dir, *item.name.split('/')) + '.npy'


# --- Distributed ------------------------------------------------------------------------

def init_distributed(device: Optional[str]) -> Tuple[int, int, Optional[str]]:
    """Rank, world size and this process's device; under torchrun, the process group (gloo
    on CPU, NCCL on CUDA, each process on its own GPU)."""
    if int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return 0, 1, device
    import torch.distributed as dist
    from mmengine.dist import get_dist_info, init_dist
    cuda = (torch.device(device).type == 'cuda') if device else torch.cuda.is_available()
    if not dist.is_initialized():
        if cuda:
            init_dist('pytorch', backend='nccl')
        else:
            dist.init_process_group(backend='gloo')
    rank, world_size = get_dist_info()
    if cuda and (device is None or torch.device(device).index is None):
        device = f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}'
    return rank, world_size, device


def gather(value: Any, world_size: int) -> List[Any]:
    if world_size == 1:
        return [value]
    from mmengine.dist import all_gather_object
    return all_gather_object(value)


# --- The tool ---------------------------------------------------------------------------

def add_model_arguments(parser: argparse.ArgumentParser, model_help: str,
                        model_flags: Sequence[str] = ('--model',)) -> None:
    """The options shared with tools/demo.py."""
    parser.add_argument('--classes', required=True,
                        help='class names: "cat, grass, sky"; with synonyms "cat, kitty; '
                        'grass; sky" (semicolons between classes, commas between synonyms, '
                        'first name = the class); a names file (one class per line, '
                        'synonyms after commas); or a benchmark key (voc20, ade150, ...)')
    parser.add_argument(*model_flags, dest='model', default='vitb', help=model_help)
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    parser.add_argument('--cfg-options', nargs='+', action=ConfigOptionsAction,
                        metavar='KEY=VALUE',
                        help='model settings, e.g. backbone.dense_mode=maskclip '
                        'clip.pretrained=/path/ViT-B-16.pt (a "model." prefix is allowed)')
    parser.add_argument('--templates', nargs='+', metavar='TEMPLATE',
                        help="a template-set name, or templates with {} for the name, "
                        "e.g. 'a photo of a {}.' (default: the model's)")
    parser.add_argument('--background', choices=['none', 'text', 'threshold'],
                        help='class 0 of --classes is the background: "text" (encoded by '
                        'its names, or by --background-names) or "threshold" (pixels of low '
                        'confidence); default: none, no background class')
    parser.add_argument('--background-names', metavar='NAMES',
                        help='with --background text: comma-separated names that encode class 0')
    parser.add_argument('--recursive', '-r', action='store_true',
                        help='take the images of sub-folders of folder inputs too')


def vocabulary_options(args: argparse.Namespace, cfg: Any) -> Dict[str, Any]:
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


def set_head_vocabulary(cfg: Any, classes: ClassNames, vocabulary: Dict[str, Any]) -> None:
    """Build the head with the run's classes and background, so that its settings are checked
    together (e.g. ``prob_thd`` with the background) before any image is read."""
    head = cfg.model.decode_head
    head.class_names = [list(names) for names in classes]
    head.background = vocabulary['background']
    head.background_names = vocabulary['background_names']
    if vocabulary['templates'] is not None:
        head.templates = vocabulary['templates']


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', nargs='*', metavar='INPUT',
                        help='image files, folders, glob patterns or @list files')
    parser.add_argument('--list', action='append', default=[], metavar='FILE',
                        help='a list file: one input per line (may be repeated)')
    parser.add_argument('--out-dir', required=True, help='folder for the outputs')
    add_model_arguments(parser, 'a short name (vitb, vitl, openclip-vitb, ..., '
                        'tiny-synthetic) or a config file (default: vitb)')
    parser.add_argument('--probabilities', action='store_true',
                        help='also write NAME.npy: float16 (K, H, W) class probabilities')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every image, replacing outputs already in --out-dir')
    parser.add_argument('--quiet', '-q', action='store_true',
                        help='no progress bar and no summary')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1; got {args.batch_size}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    classes = parse_classes(args.classes)
    device = check_device(args.device)
    out_dir = args.out_dir
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise UserInputError(f'--out-dir {out_dir!r} is a file; give a folder.')
    items = collect_images(args.inputs, args.list, args.recursive, exclude=out_dir)
    check_not_inputs([path for item in items for path in
                      (label_path(out_dir, item), probabilities_path(out_dir, item))], items)
    check_readable_images(items)
    cfg, options = model_config(args.model, args.cfg_options)
    vocabulary = vocabulary_options(args, cfg)
    settings = json.loads(json.dumps(dict(
        model=osp.abspath(args.model) if osp.exists(args.model) else args.model,
        cfg_options=options, classes=[', '.join(names) for names in classes],
        **vocabulary), default=repr))

    rank, world_size, device = init_distributed(device)
    os.makedirs(out_dir, exist_ok=True)
    check_resume(out_dir, items, settings, args.overwrite)
    share = items[rank::world_size]

    def done(item: ImageItem) -> bool:
        return not args.overwrite and osp.exists(label_path(out_dir, item)) and (
            not args.probabilities or osp.exists(probabilities_path(out_dir, item)))

    todo = [item for item in share if not done(item)]
    failures: List[str] = []
    if todo:
        failures = label_images(todo, classes, vocabulary, cfg, device, args)
    results = gather((len(share) - len(todo), len(todo) - len(failures), failures),
                     world_size)
    skipped = sum(result[0] for result in results)
    written = sum(result[1] for result in results)
    failures = [failure for result in results for failure in result[2]]
    if rank == 0 and not args.quiet:
        print(f'labelled {written} image(s), skipped {skipped} already done, '
              f'in {out_dir}', flush=True)
    if world_size > 1:
        torch.distributed.destroy_process_group()
    if failures:
        more = f'; and {len(failures) - 2} more' if len(failures) > 2 else ''
        raise UserInputError(f'{len(failures)} image(s) could not be read, so they have no '
                             f'labels: {"; ".join(failures[:2])}{more}. Fix or remove them '
                             'and run again: finished images are skipped.')


def label_images(items: Sequence[ImageItem], classes: ClassNames, vocabulary: Dict[str, Any],
                 cfg: Any, device: Optional[str], args: argparse.Namespace) -> List[str]:
    """Segment ``items`` and write their outputs; returns the images that could not be
    read, each with the reason."""
    from mmengine.utils import ProgressBar

    from mmseg_clipseg.apis import init_segmentor, segment
    from mmseg_clipseg.image_io import read_rgb
    check_weights_reachable(cfg, args.model)
    set_head_vocabulary(cfg, classes, vocabulary)
    segmentor = init_segmentor(cfg, device=device)
    progress = None if args.quiet or int(os.environ.get('RANK', '0')) != 0 \
        else ProgressBar(len(items), file=sys.stderr)
    failures = []
    for start in range(0, len(items), args.batch_size):
        batch, images = [], []
        for item in items[start:start + args.batch_size]:
            remove_partials(label_path(args.out_dir, item))
            remove_partials(probabilities_path(args.out_dir, item))
            try:
                images.append(read_rgb(item.path))
                batch.append(item)
            except UserInputError as error:
                failures.append(str(error))
        if batch:
            results = segment(segmentor, images, classes, **vocabulary,
                              return_probabilities=args.probabilities,
                              batch_size=len(batch))
            for item, result in zip(batch, results):
                if args.probabilities:
                    write_atomically(probabilities_path(args.out_dir, item),
                                     _save_npy(result.probabilities.astype(np.float16)))
                image = label_image(result.labels, len(result.classes))
                write_atomically(label_path(args.out_dir, item),
                                 lambda path: image.save(path, format='PNG'))
        if progress is not None:
            progress.update(len(items[start:start + args.batch_size]))
    if progress is not None:
        sys.stderr.write('\n')
    return failures


if __name__ == '__main__':
    sys.exit(run_cli(main))

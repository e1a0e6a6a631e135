"""Evaluate a training-free segmentation config on its benchmark.

    python tools/test.py configs/clipseg_vitb_voc20.py --data-root data/VOCdevkit/VOC2012
    python tools/test.py configs/clipseg_vitb_voc20.py --data-root ... --check   # inputs only

There is no checkpoint argument: nothing is trained. The CLIP weights come from
``model.clip.pretrained`` (an open_clip tag or a local checkpoint file).

Before anything heavy runs, the config, its options, the dataloader and sliding-window
settings, every image and label file of the test set (its header: a file that is no image,
a colour label map, a label of another size) and the output folders are checked; a mistake is
one ``error:`` line. ``--check`` also decodes every image and label (truncated files) and
builds the model with random CLIP weights (every model setting, and the head's classes
against the dataset's), then stops (exit status 0: ready to run). It does not read the CLIP
weights (``model.clip.pretrained``): the run does, and says what is wrong with them. A file
that fails to decode during a run is named in one line as well.

A run holds an exclusive lock on its work dir (``<work dir>/.tools_test.lock``): mmengine
names a run's log folder by the second it started, so two runs sharing a work dir could write
into one folder and lose a result. A second run on a busy work dir is refused at once (rather
than queued: a run that waits silently looks hung); give it its own ``--work-dir``. A run that
starts in the second an earlier one ended waits for the next second, so it gets a folder of
its own.
"""
import argparse
import contextlib
import copy
import logging
import os
import os.path as osp
import re
import sys
import time
import warnings
from collections import Counter
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate a training-free CLIP segmentation config (no checkpoint).')
    parser.add_argument('config', help='config file, e.g. configs/clipseg_vitb_voc20.py')
    parser.add_argument('--data-root', help='dataset folder (overrides the config)')
    parser.add_argument('--work-dir', help='folder for logs and results '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--show-dir', help='write each image with its ground truth and '
                        'coloured prediction to this folder')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='override config settings, e.g. model.clip.pretrained=/path.bin')
    parser.add_argument('--check', action='store_true',
                        help='check the config, its options, the test set (every file '
                        'decoded), the model settings (built with random weights) and the '
                        'output folders, then exit without evaluating (status 0: ready to run)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher for distributed runs')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

import mmseg_clipseg  # noqa: E402,F401  (first: installs the mmcv-lite shim, registers modules)
import torch
from mmengine.config import Config
from mmengine.utils import mkdir_or_exist, scandir
from PIL import Image

from mmseg_clipseg.apis.cli import check_data_root, load_config, parse_cfg_options, run_cli
from mmseg_clipseg.clip.text_encoder import encoding_shared_by_ranks
from mmseg_clipseg.apis.dist_launch import leave_error
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.engine import FittedLoaderRunner
from mmseg_clipseg.models.segmentors import check_test_cfg, keep_labels_only
from mmseg_clipseg.models.settings import check_bool, check_int

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None

LOCK_NAME = '.tools_test.lock'
# Set by tools/dist_test.sh for the processes it starts: it checked their test set (with the
# same arguments, in one process) just before.
CHECKED_VARIABLE = 'DIST_TEST_CHECKED'
# Shown at most this many names when files are missing.
SHOWN = 3


# --- Settings ---------------------------------------------------------------------------

def _group(where: str, value: Any) -> Mapping:
    if not isinstance(value, Mapping):
        raise UserInputError(f'{where} must be a dict; got {value!r}')
    return value


def _flags(where: str, settings: Mapping, *keys: str) -> None:
    """Those of ``keys`` that ``settings`` sets are True or False."""
    for key in keys:
        if key in settings:
            check_bool(f'{where}.{key}', settings[key])


def check_loader_settings(cfg: Config) -> None:
    """The test dataloader's settings, checked before any worker or model is started."""
    loader = cfg.get('test_dataloader')
    if not isinstance(loader, Mapping):
        raise UserInputError('The config has no test_dataloader; is it a test config (e.g. '
                             'configs/clipseg_vitb_voc20.py)?')
    check_int('test_dataloader.batch_size', loader.get('batch_size', 1))
    workers = check_int('test_dataloader.num_workers', loader.get('num_workers', 0), low=0)
    _flags('test_dataloader', loader, 'persistent_workers', 'pin_memory', 'drop_last')
    if loader.get('persistent_workers') and workers == 0:
        raise UserInputError('test_dataloader.persistent_workers=True needs num_workers >= 1; '
                             'with num_workers=0 also set '
                             'test_dataloader.persistent_workers=False.')
    if loader.get('prefetch_factor') is not None:
        check_int('test_dataloader.prefetch_factor', loader['prefetch_factor'])
    sampler = _group('test_dataloader.sampler', loader.get('sampler'))
    _group('test_dataloader.dataset', loader.get('dataset'))
    _flags('test_dataloader.sampler', sampler, 'shuffle')
    _flags('test_cfg', _group('test_cfg', cfg.get('test_cfg', {})), 'fp16')


# --- The test set -----------------------------------------------------------------------

def _examples(names: Sequence[str]) -> str:
    shown = ', '.join(names[:SHOWN])
    return shown + (f' and {len(names) - SHOWN} more' if len(names) > SHOWN else '')


def _suffixes(names: Sequence[str]) -> str:
    counts = Counter(osp.splitext(name)[1] or '(none)' for name in names)
    return ', '.join(f'{count} {suffix!r}' for suffix, count in counts.most_common(3))


def build_test_dataset(cfg: Config) -> Any:
    """The test dataset, built without reading its file list."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    settings = dict(cfg.test_dataloader.dataset, lazy_init=True)
    dataset_type = settings.get('type')
    if not isinstance(dataset_type, str) or DATASETS.get(dataset_type) is None:
        raise UserInputError(f'test_dataloader.dataset.type={dataset_type!r} is not a '
                             'registered dataset.')
    try:
        return DATASETS.build(settings)
    except (TypeError, ValueError, KeyError, AssertionError) as error:
        raise UserInputError(f'test_dataloader.dataset could not be built: {error}') from error


def check_test_files(cfg: Config, decode: bool = False) -> int:
    """Every image of the test set has its label file and the reverse; returns the number
    of images.

    With a split file (``ann_file``), its entries must all have an image and a label. Without
    one, the image folder must hold images with the dataset's ``img_suffix``, each with its
    label, and no label may be left without its image (the evaluation would quietly skip it).
    ``decode``: decode every image and label too (see :func:`check_image_headers`).
    """
    dataset = build_test_dataset(cfg)
    if getattr(dataset, 'backend_args', None):
        return -1  # remote storage: nothing to list here
    prefix = getattr(dataset, 'data_prefix', {}) or {}
    img_dir, ann_dir = prefix.get('img_path'), prefix.get('seg_map_path')
    img_suffix = getattr(dataset, 'img_suffix', '')
    split_file = getattr(dataset, 'ann_file', '') or ''
    kind = type(dataset).__name__
    if split_file and osp.isfile(split_file):
        _check_no_blank_lines(split_file)
    try:
        data_list = dataset.load_data_list()
    except (OSError, ValueError, AssertionError) as error:
        raise UserInputError(f'The test set of {kind} could not be listed: {error}') from error
    if not data_list:
        if split_file:
            raise UserInputError(f'Split file {split_file!r} lists no images.')
        raise _no_images_error(img_dir, img_suffix, kind)
    images = [info['img_path'] for info in data_list]
    missing = [osp.relpath(path, img_dir) if img_dir else path
               for path in images if not osp.isfile(path)]
    if missing:
        hint = (' Split-file entries are names without a suffix.'
                if any(name.endswith(img_suffix * 2) for name in missing) else
                ' Is the copy of the images complete, and the split file for this dataset?')
        raise UserInputError(f'{len(missing)} of the {len(images)} images listed in split '
                             f'file {split_file!r} are not in {img_dir!r}: '
                             f'{_examples(missing)}.{hint}')
    if ann_dir is None:
        return len(images)
    unlabelled = [(osp.relpath(info['img_path'], img_dir), info.get('seg_map_path') or '')
                  for info in data_list if not osp.isfile(info.get('seg_map_path') or '')]
    if unlabelled:
        first, expected = unlabelled[0]
        raise UserInputError(
            f'{len(unlabelled)} of the {len(images)} test images have no label file in '
            f'{ann_dir!r}: {_examples([image for image, _ in unlabelled])} (the label of '
            f'{first} would be {osp.relpath(expected, ann_dir)}). Copy or convert the labels '
            '(docs/datasets.md).')
    check_image_headers([(info['img_path'], info['seg_map_path']) for info in data_list],
                        img_dir, ann_dir, decode=decode)
    seg_suffix = getattr(dataset, 'seg_map_suffix', '')
    if not split_file and img_dir and osp.isdir(ann_dir) and seg_suffix:
        _check_no_orphan_labels(images, img_dir, ann_dir, img_suffix, seg_suffix, kind)
    return len(images)


def _check_no_blank_lines(split_file: str) -> None:
    """mmseg would read a blank line of a split file as an image named by the suffix alone."""
    with open(split_file, encoding='utf-8', errors='replace') as handle:
        blank = [number for number, line in enumerate(handle, 1) if not line.strip()]
    if blank:
        lines = _examples([str(number) for number in blank])
        raise UserInputError(f'Split file {split_file!r} has blank lines (line {lines}); '
                             'remove them.')


def _no_images_error(img_dir: Optional[str], img_suffix: str, kind: str) -> UserInputError:
    """The image folder holds no file with the dataset's suffix: say what it holds."""
    present = sorted(scandir(img_dir, recursive=True)) if img_dir and osp.isdir(img_dir) \
        else []
    found = 'it is empty'
    if present:
        found = (f'it holds {_suffixes(present)} files: if those are the images, set '
                 '--cfg-options test_dataloader.dataset.img_suffix='
                 f'{osp.splitext(present[0])[1]!r}')
    return UserInputError(f'Image folder {img_dir!r} holds no images ending in '
                          f'{img_suffix!r} (the img_suffix of {kind}); {found}. Is '
                          '--data-root the right dataset, converted as docs/datasets.md '
                          'describes?')


def _check_no_orphan_labels(images: Sequence[str], img_dir: str, ann_dir: str,
                            img_suffix: str, seg_suffix: str, kind: str) -> None:
    """Every label file has its image: the evaluation would skip a label without one."""
    listed = {osp.relpath(path, img_dir) for path in images}
    # Listed as mmseg lists the images (hidden files skipped, links followed).
    orphans = [name for name in sorted(scandir(ann_dir, seg_suffix, recursive=True))
               if name[:-len(seg_suffix)] + img_suffix not in listed]
    if orphans:
        image = orphans[0][:-len(seg_suffix)] + img_suffix
        raise UserInputError(
            f'{len(orphans)} label files in {ann_dir!r} have no image in {img_dir!r}: '
            f'{_examples(orphans)} (the image of {orphans[0]} would be {image}). The '
            'evaluation would skip them: is the copy of the images complete, and do they '
            f'end in {img_suffix!r} (the img_suffix of {kind})?')


class _Unreadable(Exception):
    """A test file that is not an image that can be read; the message says why."""


def _image_facts(path: str, decode: bool) -> Tuple[Tuple[int, int], Tuple[int, int], int]:
    """(width, height) of the stored pixels and of the image upright (its EXIF orientation
    applied), and the number of channels, from the file's header; with ``decode``, every
    pixel is decoded too (a truncated file passes the header but not this).

    Raises:
        _Unreadable: the file is no image, or (``decode``) its pixels cannot be decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as image:
                stored = image.size
                # JPEG keeps EXIF in its header; other formats would be decoded to find it.
                turned = image.format == 'JPEG' and image.getexif().get(0x0112) in (5, 6, 7, 8)
                channels = len(image.getbands())
                if decode:
                    image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise _Unreadable(str(error) or type(error).__name__) from error
    return stored, (stored[::-1] if turned else stored), channels


def check_image_headers(pairs: Sequence[Tuple[str, str]], img_dir: str, ann_dir: str,
                        decode: bool = False) -> None:
    """Every image and label opens as an image, each label is a single-channel map with its
    image's size (upright, or as stored): a damaged file, a colour picture for a label or a
    label of another size would stop the evaluation part-way. With ``decode`` (``--check``)
    every pixel is decoded as well, which finds truncated files; without it only the headers
    are read, and the run's loaders name a file that fails to decode."""
    broken, coloured, mismatched = [], [], []
    for image, label in pairs:
        facts = {}
        for path, folder in ((image, img_dir), (label, ann_dir)):
            try:
                facts[path] = _image_facts(path, decode)
            except _Unreadable as error:
                broken.append((osp.relpath(path, folder), path, str(error)))
        if label in facts and facts[label][2] != 1:
            coloured.append((osp.relpath(label, ann_dir), facts[label][2]))
        if image in facts and label in facts and facts[label][1] not in facts[image][:2]:
            mismatched.append((osp.relpath(label, ann_dir), facts[label][1],
                               facts[image][1]))
    if broken:
        _, path, reason = broken[0]
        raise UserInputError(f'{len(broken)} test files are not images that can be read '
                             f'(empty or damaged?): {_examples([name for name, *_ in broken])}'
                             f' ({path}: {reason}). Copy them again.')
    if coloured:
        name, channels = coloured[0]
        raise UserInputError(
            f'{len(coloured)} label maps have several channels, e.g. {name} has {channels} '
            '(a colour picture?); a label map holds one class index per pixel (a grey or '
            'palette PNG). Convert the labels for this dataset (docs/datasets.md).')
    if mismatched:
        name, (lw, lh), (iw, ih) = mismatched[0]
        raise UserInputError(f'{len(mismatched)} label maps differ in size from their images, '
                             f'e.g. {name} is {lw}x{lh} but its image {iw}x{ih}; labels must '
                             'be at the size of their images (converted for this dataset '
                             'version, docs/datasets.md?).')


# --- Output folders and the lock --------------------------------------------------------

def check_output_folder(path: str, option: str, create: bool) -> None:
    """``path`` is (or can become) a writable folder; made when ``create``."""
    if osp.exists(path) and not osp.isdir(path):
        raise UserInputError(f'{option} {path!r} is a file, not a folder; give a folder.')
    existing = osp.abspath(path)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise UserInputError(f'{option} {path!r} cannot be made: {existing!r} is a file, not '
                             'a folder.')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserInputError(f'{option} {path!r} is not writable (no permission to write in '
                             f'{existing!r}); give another folder.')
    if create:
        try:
            mkdir_or_exist(path)
        except OSError as error:
            raise UserInputError(f'{option} {path!r} could not be made: '
                                 f'{error.strerror or error}.') from error


@contextlib.contextmanager
def work_dir_lock(work_dir: str) -> Iterator[None]:
    """Hold an exclusive lock on ``work_dir`` (released when the process ends, however)."""
    if fcntl is None:
        yield
        return
    path = osp.join(work_dir, LOCK_NAME)
    try:
        handle = open(path, 'a+', encoding='utf-8')
    except OSError as error:
        raise UserInputError(f'Work dir {work_dir!r} is not writable: '
                             f'{error.strerror or error}.') from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip()
            raise UserInputError(
                f'Another tools/test.py run{f" (process {owner})" if owner else ""} is using '
                f'work dir {work_dir!r}; give this run its own --work-dir, or wait until '
                'that one ends.') from None
        except OSError:  # a file system without locks (some network mounts): run unlocked
            yield
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f'{os.getpid()}\n')
        handle.flush()
        # mmengine names the run's folder by the second; a run that ended within this
        # second must keep its folder.
        while osp.exists(osp.join(work_dir, time.strftime('%Y%m%d_%H%M%S'))):
            time.sleep(0.05)
        yield


# --- Logging ----------------------------------------------------------------------------

# Console records that tell a user nothing (the log file keeps them).
_CONSOLE_DROPPED = ('Hooks will be executed in the following order',
                    'Config:\n',
                    'Distributed training is not used')


class _EnvironmentRecord(logging.Filter):
    """The environment record: on CPU, 'GPU number: 1' becomes the number of processes;
    torch's build flags (a screenful) are left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and 'Runtime environment:' in record.msg:
            text = re.sub(r'\n    PyTorch compiling details:.*?(?=\n    \S)', '', record.msg,
                          flags=re.S)
            if not torch.cuda.is_available():
                text = re.sub(r'GPU number: (\d+)', r'Processes: \1 (CPU, no GPU)', text)
            record.msg = text
        return True


class _ConsoleNoise(logging.Filter):

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_CONSOLE_DROPPED))


class EvaluationRunner(FittedLoaderRunner):
    """mmengine's Runner with a console that shows what a user reads, and a test loader
    fitted to the machine (workers, pinned memory) when it is built."""

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        logger.addFilter(_EnvironmentRecord())
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:  # the console, not the log file
                handler.addFilter(_ConsoleNoise())
        return logger


# --- Main -------------------------------------------------------------------------------

def _enable_visualization(cfg, show_dir: str) -> None:
    cfg.default_hooks.visualization.draw = True
    cfg.default_hooks.visualization.interval = 1
    cfg.visualizer.save_dir = show_dir


def _init_cpu_distributed(cfg) -> None:
    """Without CUDA, use gloo: mmengine's own init would call torch.cuda.set_device."""
    cfg.env_cfg.dist_cfg = dict(cfg.env_cfg.get('dist_cfg', {}), backend='gloo')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def _rank() -> int:
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(name, '').isdigit():
            return int(os.environ[name])
    return 0


def check_process_count() -> None:
    """One process per GPU: more processes on a node than GPUs would share or miss one."""
    processes = os.environ.get('LOCAL_WORLD_SIZE', '')
    if torch.cuda.is_available() and processes.isdigit() \
            and int(processes) > torch.cuda.device_count():
        raise UserInputError(f'{processes} processes per node but {torch.cuda.device_count()} '
                             'GPU(s): start at most one process per GPU.')


# The loading steps whose files can turn out damaged part-way through a run.
LOADERS = ('LoadImageFromFile', 'LoadAnnotations', 'LoadUInt16Annotations')


def name_unreadable_files(cfg: Config) -> None:
    """Wrap the test pipeline's loading steps, so that a file that fails to decode mid-run
    is one line naming it (see :class:`mmseg_clipseg.datasets.loading.NameUnreadableFiles`)."""
    dataset = cfg.test_dataloader.dataset
    dataset.pipeline = [
        dict(type='NameUnreadableFiles', loader=step)
        if isinstance(step, Mapping) and str(step.get('type')).split('.')[-1] in LOADERS
        else step for step in dataset.get('pipeline', [])]


def _unwrapped(error: UserInputError) -> UserInputError:
    """torch re-raises a loader worker's error with the worker's traceback in its message;
    keep the message itself (the traceback's last line)."""
    text = str(error)
    if not (text.startswith('Caught ') and '\nOriginal Traceback' in text):
        return error
    last = text.rstrip().splitlines()[-1]
    return UserInputError(last.split(': ', 1)[-1])


# What each launcher sets for the processes it starts (mmengine's init_dist reads them).
LAUNCHER_VARIABLES = {'pytorch': ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
                      'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'),
                      'mpi': ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE')}


def check_launcher(launcher: str) -> None:
    """A ``--launcher`` run is started by its launcher: without the variables it sets,
    mmengine would stop with a KeyError (or wait for peers that never come)."""
    missing = [name for name in LAUNCHER_VARIABLES.get(launcher, ())
               if not os.environ.get(name)]
    if missing:
        raise UserInputError(
            f'--launcher {launcher} runs under a launcher, which sets {", ".join(missing)}; '
            'they are not set here. Start distributed runs with bash tools/dist_test.sh '
            'CONFIG GPUS (or torchrun, srun, mpirun), or drop --launcher for one process.')


def check_model_settings_by_building(cfg: Config) -> bool:
    """Build the model as the run would, but with random CLIP weights (nothing is read or
    downloaded), so that the constructors check every model setting (``dense_mode``,
    ``cra``, the head's classes, ...) and the head's classes are compared with the dataset's,
    as the run's ClassNamesCheckHook does; the weights file itself is checked by the run.

    Returns:
        Whether the model was built: not for a ``hf-hub:`` model name, whose weights come with
        the name (building it would download them).
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmseg_clipseg.engine.class_names_check import check_head_classes
    model = copy.deepcopy(cfg.model)
    if isinstance(model.get('clip'), Mapping):
        if str(model.clip.get('model_name', '')).startswith('hf-hub:'):
            return False
        model.clip.pretrained = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    logging.disable(logging.WARNING)  # open_clip warns that the weights are random
    try:
        with torch.no_grad():
            segmentor = MODELS.build(model)
    finally:
        logging.disable(logging.NOTSET)
    check_head_classes(getattr(segmentor, 'decode_head', None),
                       build_test_dataset(cfg).metainfo.get('classes'))
    return True


def prepare(args: argparse.Namespace) -> Tuple[Config, int, bool]:
    """Load the config and check every input; no model is built.

    Returns:
        The config, ready for the runner, the number of test images (-1: not listed,
        remote storage, or checked already by tools/dist_test.sh) and whether the model was
        built (``--check``) to check its settings.
    """
    cfg = load_config(args.config, parse_cfg_options(args.cfg_options), args.data_root)
    check_launcher(args.launcher)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    check_loader_settings(cfg)
    check_test_cfg(cfg.get('model', {}).get('test_cfg'))  # windows and batching
    keep_labels_only(cfg)
    check_data_root(cfg)
    # Every image header is read here: once per tools/dist_test.sh run, not once per process.
    checked = not args.check and os.environ.get(CHECKED_VARIABLE) == '1'
    images = -1 if checked else check_test_files(cfg, decode=args.check)
    check_output_folder(cfg.work_dir, '--work-dir', create=not args.check)
    if args.show_dir:
        check_output_folder(args.show_dir, '--show-dir', create=not args.check)
    check_process_count()
    name_unreadable_files(cfg)
    built = args.check and check_model_settings_by_building(cfg)
    return cfg, images, built


def evaluate(args: argparse.Namespace) -> None:
    cfg, images, built = prepare(args)
    if args.check:
        if osp.isdir(cfg.work_dir):
            with work_dir_lock(cfg.work_dir):
                pass
        count = f'{images} test images' if images >= 0 else 'the test set'
        model = ('model settings (built with random weights; the weights are read by the run '
                 'only)' if built else 'model settings not built (a hf-hub: model)')
        print(f'ok: {args.config}: {count} with labels in '
              f'{cfg.test_dataloader.dataset.data_root} (every file decoded), {model}, work '
              f'dir {cfg.work_dir}')
        return
    if args.show_dir:
        _enable_visualization(cfg, args.show_dir)
    else:  # mmseg warns that its (unused) visualization hook does not draw
        warnings.filterwarnings('ignore', message='The draw is False')
    # One process of a distributed run holds the lock for all (they share the work dir).
    first = args.launcher == 'none' or _rank() == 0
    lock = work_dir_lock(cfg.work_dir) if first else contextlib.nullcontext()
    with lock:
        if args.launcher != 'none' and not torch.cuda.is_available():
            _init_cpu_distributed(cfg)
        # Every rank tests at least one sample, so the ranks can encode each vocabulary
        # together (each a 1/N share of the prompts).
        with encoding_shared_by_ranks():
            EvaluationRunner.from_cfg(cfg).test()
        if torch.distributed.is_initialized():
            # Left to interpreter exit, the process group's threads can abort a process
            # ("terminate called without an active exception"). After a failure the
            # launcher stops the other processes instead.
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        evaluate(args)
    except UserInputError as error:
        user_error = _unwrapped(error)
        if args.launcher != 'none':  # under tools/dist_test.sh: said once for all processes
            leave_error(str(user_error))
        if user_error is error:
            raise
        raise user_error from error


if __name__ == '__main__':
    sys.exit(run_cli(main))

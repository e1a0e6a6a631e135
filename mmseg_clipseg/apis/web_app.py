"""A local web page that segments an image into the classes you type.

    pip install -e ".[app]"
    python tools/app.py                      # the tiny model shipped in the package, offline
    python tools/app.py --model vitb         # CLIP ViT-B/16 (weights downloaded once)

Upload an image or pick a synthetic scene, type classes as ``--classes`` of the tools takes
them ("cat, grass, sky"; with synonyms "cat, kitty; grass; sky"; or a benchmark key such as
voc20), choose the dense mode (clipseg or a baseline), other dense modes to compare with
side by side, and the background rule, and the page shows the overlay with its legend, each
class's share of the image, the labels as a PNG of class indices, and one overlay per compared
mode. It is a thin layer over :mod:`mmseg_clipseg.apis`: the model is built once by
:func:`~mmseg_clipseg.apis.init_segmentor` (the dense modes differ only in the final block's
forward, so its backbone's ``dense_mode`` is switched per click instead of holding one CLIP per
mode), and every image goes through :func:`~mmseg_clipseg.apis.segment`, which re-encodes only
the text when the names change.

The page is served on 127.0.0.1 only (``--host`` to change it), with Gradio's analytics and
other calls home switched off. Gradio is imported by :func:`serve`, after the arguments are
checked.
"""
import argparse
import contextlib
import dataclasses
import os.path as osp
import socket
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image, UnidentifiedImageError

from mmseg_clipseg.apis.cli import parse_cfg_options
from mmseg_clipseg.apis.image_io import read_rgb
from mmseg_clipseg.apis.image_tool_options import looks_like_path, parse_classes
from mmseg_clipseg.apis.inference import check_device, init_segmentor, model_config, segment
from mmseg_clipseg.apis.visualization import class_areas, render_overlay
from mmseg_clipseg.class_names import ClassNames
from mmseg_clipseg.datasets.synthetic_scenes import CLASSES, generate_scenes
from mmseg_clipseg.models import DENSE_MODES
from mmseg_clipseg.models.settings import check_choice
from mmseg_clipseg.utils.errors import UserInputError

# More classes than the largest benchmark (ADE-847) is a paste gone wrong; encoding them
# would keep the page busy for minutes.
MAX_CLASSES = 1000
# Larger images take minutes per dense mode on a CPU; downscale them first.
MAX_IMAGE_PIXELS = 4096 * 4096
BACKGROUND_CHOICES = ('none', 'text', 'threshold')
NUM_EXAMPLES = 4
EXAMPLE_SEED = 1


@dataclasses.dataclass
class PageOutputs:
    """What one click shows: the overlay (with its legend), the classes' shares of
    the image, the labels PNG, the compared modes' overlays (each with its mode as caption)
    and the status line; all but the status are None after a mistake, so that no earlier
    result stays on the page."""
    overlay: Optional[Image.Image] = None
    shares: Optional[Dict[str, float]] = None
    labels_file: Optional[str] = None
    comparison: Optional[List[Tuple[Image.Image, str]]] = None
    status: str = ''

    def as_tuple(self) -> Tuple[Any, ...]:
        return self.overlay, self.shares, self.labels_file, self.comparison, self.status


class SegmentationPage:
    """The page's logic, without the page: one segmentor, built on first use from one
    checked config, whose backbone's ``dense_mode`` is set for each segmentation, and
    :func:`mmseg_clipseg.apis.segment` per dense mode shown.

    Args:
        cfg: The model config, checked (:func:`mmseg_clipseg.apis.model_config`).
        device: Where the segmentors run.
        work_dir: Folder for the label PNGs the page offers for download.
    """

    def __init__(self, cfg: Config, device: torch.device, work_dir: str) -> None:
        self.cfg = cfg
        self.device = device
        self.work_dir = work_dir
        self._segmentor: Optional[torch.nn.Module] = None

    def segmentor(self) -> torch.nn.Module:
        """The segmentor, built the first time it is asked for."""
        if self._segmentor is None:
            self._segmentor = init_segmentor(self.cfg, device=self.device)
        return self._segmentor

    @contextlib.contextmanager
    def dense_mode(self, dense_mode: str) -> Iterator[torch.nn.Module]:
        """The segmentor with its backbone's final block set to ``dense_mode``, the
        config's mode again on exit. Every mode reads its settings (CRA, DSI, ...) when
        the backbone runs, and all are checked when it is built, so this equals a
        segmentor built with ``backbone.dense_mode=dense_mode``; the page segments one
        click at a time (``concurrency_limit=1``), so no other click sees the switch."""
        backbone = self.segmentor().backbone
        built_mode = backbone.dense_mode
        backbone.dense_mode = check_choice('dense_mode', dense_mode, DENSE_MODES)
        try:
            yield self.segmentor()
        finally:
            backbone.dense_mode = built_mode

    def run(self, image_path: Optional[str], names: str, dense_mode: str, background: str,
            progress: Any = None, image_name: Optional[str] = None,
            compare: Sequence[str] = ()) -> PageOutputs:
        """Segment the image at ``image_path`` with ``dense_mode``, and with each mode of
        ``compare`` for the comparison; a user's mistake becomes the status line, which
        names the image as ``image_name`` (the uploaded file's name) when given."""
        try:
            return self._segment(image_path, names, dense_mode, background, progress,
                                 compare)
        except UserInputError as error:
            message = str(error)
            if image_path and image_name:
                message = message.replace(repr(image_path), repr(image_name))
            return PageOutputs(status=f'**Error:** {message}')

    def _segment(self, image_path: Optional[str], names: str, dense_mode: str,
                 background: str, progress: Any, compare: Sequence[str]) -> PageOutputs:
        classes = check_names(names)
        for mode in (dense_mode, *compare):
            if mode not in DENSE_MODES:
                raise UserInputError(f'Unknown dense mode {mode!r}; choose one of '
                                     f'{", ".join(DENSE_MODES)}.')
        compare = compared_modes(dense_mode, compare)
        if background not in BACKGROUND_CHOICES:
            raise UserInputError(f'Unknown background {background!r}; choose one of '
                                 f'{", ".join(BACKGROUND_CHOICES)}.')
        if not image_path:
            raise UserInputError('No image yet: upload one or pick an example.')
        check_image_size(image_path)
        image = read_rgb(image_path)
        started = time.perf_counter()
        if self._segmentor is None and progress is not None:
            progress(0, desc='Building the model (once)')
        modes = (dense_mode, *compare)
        results = []
        for step, mode in enumerate(modes):
            if progress is not None:
                progress(step / len(modes), desc=f'Segmenting with {mode}')
            with self.dense_mode(mode) as segmentor:
                results.append(segment(segmentor, image, classes,
                                       background=None if background == 'none' else background))
        result = results[0]
        shares = {result.classes[index]: share
                  for index, share in class_areas(result.labels, len(result.classes))}
        height, width = result.labels.shape
        compared = f' (compared with {", ".join(compare)})' if compare else ''
        return PageOutputs(
            overlay=render_overlay(image, result.labels, result.classes), shares=shares,
            labels_file=self._save_labels(result.labels, len(result.classes)),
            comparison=[(render_overlay(image, other.labels, other.classes), mode)
                        for mode, other in zip(compare, results[1:])],
            status=f'{width}x{height} image, {len(result.classes)} classes, {dense_mode}, '
            f'background {background}{compared}: {time.perf_counter() - started:.1f} s. The '
            f'PNG holds each pixel\'s {dense_mode} class index (0 = {result.classes[0]}).')

    def _save_labels(self, labels: np.ndarray, num_classes: int) -> str:
        """The labels (H, W) as a PNG of class indices, 8-bit up to 256 classes, else
        16-bit; each in a folder of its own so that its name can stay ``labels.png``."""
        dtype = 'uint8' if num_classes <= 256 else 'uint16'
        path = osp.join(tempfile.mkdtemp(dir=self.work_dir), 'labels.png')
        Image.fromarray(labels.astype(dtype)).save(path)
        return path


def compared_modes(dense_mode: str, compare: Sequence[str]) -> List[str]:
    """The modes of ``compare`` other than ``dense_mode``, once each, in
    :data:`DENSE_MODES` order (the order of the page's boxes)."""
    return [mode for mode in DENSE_MODES if mode in compare and mode != dense_mode]


def check_names(text: str) -> ClassNames:
    """The classes typed in the page, read by the tools' ``--classes`` parser. Names files
    are not read from the page (it may be served to others), benchmark keys are."""
    text = (text or '').strip()
    if not text:
        raise UserInputError('No class names: type two or more, e.g. "cat, grass, sky" (with '
                             'synonyms: "cat, kitty; grass; sky").')
    if looks_like_path(text) or osp.exists(osp.expanduser(text)):
        raise UserInputError(f'{text!r} looks like a file; the page does not read files: type '
                             'the names, e.g. "cat, grass, sky", or a benchmark key (voc20).')
    classes = parse_classes(text, option='Classes')
    if len(classes) > MAX_CLASSES:
        raise UserInputError(f'{len(classes)} classes were given; the page takes at most '
                             f'{MAX_CLASSES}. Use tools/infer.py for larger vocabularies.')
    return classes


def check_image_size(path: str) -> None:
    """Refuse an image of more than :data:`MAX_IMAGE_PIXELS` from its header, before it is
    decoded; files Pillow cannot open are left to ``read_rgb``, which says why."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError as error:  # Pillow's own limit, far above ours
        raise UserInputError(f'The image is too large to decode safely ({error}); the page '
                             f'takes up to {MAX_IMAGE_PIXELS // 10**6} megapixels.') from error
    except (UnidentifiedImageError, OSError):
        return
    if width * height > MAX_IMAGE_PIXELS:
        raise UserInputError(f'The image is {width}x{height} pixels; the page takes up to '
                             f'{MAX_IMAGE_PIXELS // 10**6} megapixels. Downscale it, or use '
                          'tools/infer.py.')


def check_address(host: str, port: int) -> None:
    """Refuse a port out of range, or one that is taken, before the model is built (a
    second copy of the page, say, would otherwise end in a server traceback)."""
    if not 1 <= port <= 65535:
        raise UserInputError(f'--port {port} is not a port; give 1..65535.')
    try:
        with socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as error:
        raise UserInputError(f'Cannot serve on {host}:{port} ({error.strerror}); give '
                             'another --port, or a --host of this machine.') from error


def write_examples(folder: str) -> List[str]:
    """Synthetic scenes (the tiny model's world) as PNG files in ``folder``."""
    paths = []
    for index, scene in enumerate(generate_scenes(NUM_EXAMPLES, seed=EXAMPLE_SEED)):
        paths.append(osp.join(folder, f'scene_{index}.png'))
        Image.fromarray(scene.image).save(paths[-1])
    return paths


def serve(args: argparse.Namespace) -> None:
    """Build the model and serve the page until it is stopped (``args``: those of
    :mod:`mmseg_clipseg_cli.app`)."""
    check_address(args.host, args.port)
    device = check_device(args.device, '--device')
    cfg = model_config(args.model, parse_cfg_options(args.cfg_options))
    try:
        import gradio  # noqa: F401
    except ImportError as error:
        raise UserInputError('The web page needs Gradio: pip install -e ".[app]"') from error
    default_mode = cfg.model.backbone.get('dense_mode', 'clipseg')
    with tempfile.TemporaryDirectory(prefix='mmseg_clipseg_app_') as work_dir:
        page = SegmentationPage(cfg, device, work_dir)
        print(f'Building the model ({default_mode}) ...', flush=True)
        page.segmentor()
        examples = write_examples(work_dir)
        from .web_page import build_page  # imports Gradio
        blocks = build_page(page, examples, ', '.join(CLASSES), default_mode)
        blocks.queue(default_concurrency_limit=1).launch(
            server_name=args.host, server_port=args.port, inbrowser=False, share=False,
            footer_links=[], run_history=False, enable_monitoring=False, ssr_mode=False,
            mcp_server=False, allowed_paths=[work_dir], max_file_size='64mb')

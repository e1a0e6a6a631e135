"""Measure inference speed and memory of a config, and compare variants in one run.

    python tools/benchmark.py configs/clipseg_vitb_cityscapes.py --random-weights \
        --compare-modes clipseg maskclip --compare-windows

Reports, per variant, the median over ``--repeats`` timed runs (after a warm-up) of
milliseconds per image and images per second, the time split into backbone (blocks and
embeddings), CRA, DSI and head, peak memory, and the ratio to the first variant. ``--text``
instead measures the text side: encoding the class names with and without cutting the token
sequence, and reading them back from the on-disk cache.
"""
import argparse
import contextlib
import copy
import ctypes
import gc
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Tuple


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--input-size', type=int, nargs=2, default=(448, 896),
                        metavar=('H', 'W'), help='network input size, after the resize of '
                        'the test pipeline (default: a Cityscapes image at short side 448)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--random-weights', action='store_true',
                        help='use random CLIP weights (model.clip.pretrained=None)')
    parser.add_argument('--compare-modes', nargs='+', metavar='MODE',
                        help='dense modes to compare, e.g. clipseg maskclip')
    parser.add_argument('--compare-windows', action='store_true',
                        help='also run with one window per backbone pass (per-crop)')
    parser.add_argument('--compare-precisions', nargs='+', metavar='P',
                        help='precisions to compare (fp32 fp16 bf16; half needs CUDA)')
    parser.add_argument('--run-images', type=int, default=500,
                        help='report the text encoding\'s share of a run of this many images '
                        '(default 500, the size of Cityscapes val; 0: do not encode the text '
                        'separately)')
    parser.add_argument('--text', action='store_true', help='benchmark the text side instead')
    parser.add_argument('--text-classes', type=int, default=None,
                        help='with --text: use only the first N classes of the config')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

import mmseg_clipseg  # noqa: E402,F401  (first: installs the mmcv-lite shim, registers)
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch.autograd import profiler_legacy
from torch.profiler import ProfilerActivity, profile

from mmseg_clipseg.apis import check_device
from mmseg_clipseg.apis.cli import load_config, parse_cfg_options, run_cli
from mmseg_clipseg.clip import resolve_templates
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.apis.progress import Progress, track
from mmseg_clipseg.models.settings import check_int

SECTIONS = ('clipseg.backbone', 'clipseg.cra', 'clipseg.dsi', 'clipseg.head')


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse numbers out of range and options that contradict each other, before the model
    is built; resolves ``args.device``."""
    for name in ('batch_size', 'repeats'):
        check_int(f'--{name.replace("_", "-")}', getattr(args, name))
    for size in args.input_size:
        check_int('--input-size', size)
    check_int('--warmup', args.warmup, low=0)
    check_int('--run-images', args.run_images, low=0)
    if args.threads is not None:
        check_int('--threads', args.threads)
    if args.text_classes is not None:
        check_int('--text-classes', args.text_classes)
        if not args.text:
            raise UserInputError('--text-classes applies to the text benchmark; add --text.')
    if args.text:
        image_options = [option for option in ('compare_modes', 'compare_precisions',
                                               'compare_windows') if getattr(args, option)]
        if image_options:
            raise UserInputError(f'--{image_options[0].replace("_", "-")} compares image '
                                 'variants; --text measures the text side only: drop one.')
    args.device = str(check_device(args.device, '--device'))


def build_model(cfg: Config, device: str, **overrides) -> torch.nn.Module:
    """The config's model with ``overrides`` (dotted keys under ``model``) applied."""
    variant = copy.deepcopy(cfg)
    variant.merge_from_dict({f'model.{key}': value for key, value in overrides.items()})
    return MODELS.build(variant.model).to(device).eval()


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run_once(model: torch.nn.Module, images: torch.Tensor, device: str) -> float:
    """Seconds for one prediction of the batch (preprocessing included)."""
    samples = [SegDataSample(metainfo=dict(ori_shape=tuple(images.shape[-2:]),
                                           img_shape=tuple(images.shape[-2:])))
               for _ in range(images.shape[0])]
    synchronize(device)
    start = time.perf_counter()
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples))
        model.predict(data['inputs'], data['data_samples'])
    synchronize(device)
    return time.perf_counter() - start


def section_times(model: torch.nn.Module, images: torch.Tensor, device: str) -> Dict[str, float]:
    """Milliseconds per batch in each labelled section, from one profiled run."""
    if device.startswith('cuda'):
        recorder = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
    else:
        # The labelled ranges' CPU times, without kineto: on a machine without a GPU it
        # logs "gpuGetDeviceCount failed" and two lines per run to stderr.
        recorder = profiler_legacy.profile()
    with recorder as profiler:
        run_once(model, images, device)
    totals = {name: 0.0 for name in SECTIONS}
    for event in profiler.key_averages():
        if event.key in totals:
            device_time = getattr(event, 'device_time_total', 0.0)
            totals[event.key] = (device_time or event.cpu_time_total) / 1000.0
    # The backbone section contains CRA and DSI; report the rest of it on its own.
    totals['clipseg.backbone'] -= totals['clipseg.cra'] + totals['clipseg.dsi']
    return totals


class PeakMemory:
    """Peak memory of one run above what was in use before it, in MB.

    On CUDA: torch's allocator statistics. On the CPU: the process's resident-set high-water
    mark (Linux ``VmHWM``), reset before each run through ``/proc/self/clear_refs`` after
    freed heap memory is handed back to the system, so that a variant measured after another
    does not inherit its peak.
    """

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith('cuda')
        self.before = 0.0

    def __enter__(self) -> 'PeakMemory':
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.before = torch.cuda.memory_allocated()
        else:
            _release_free_heap()
            with open('/proc/self/clear_refs', 'w') as handle:
                handle.write('5')  # resets VmHWM to the current VmRSS
            self.before = _proc_status_kb('VmRSS') * 1024
        return self

    def __exit__(self, *exc_info) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = _proc_status_kb('VmHWM') * 1024
        self.megabytes = (peak - self.before) / 2**20


def _proc_status_kb(field: str) -> int:
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


def _release_free_heap() -> None:
    """Give freed heap pages back to the system (glibc keeps them otherwise)."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the peak may then include freed memory
        pass


def measure(models: Dict[str, torch.nn.Module], images: torch.Tensor,
            args: argparse.Namespace) -> Dict[str, Dict[str, float]]:
    """Median timings, peak memory and section split of every variant.

    The timed runs of the variants are interleaved, so that a change of machine load during
    the benchmark affects every variant alike and their ratios stay meaningful.
    """
    # Warm-up, timed and profiled runs of every variant, shown as they are done (stderr).
    progress = Progress(len(models) * (args.warmup + args.repeats + 1), 'benchmark', 'runs')
    for label, model in models.items():
        for _ in range(args.warmup):
            run_once(model, images, args.device)
            progress.update(status=f'warm-up {label}')
    seconds = {label: [] for label in models}
    peaks = {label: 0.0 for label in models}
    for repeat in range(args.repeats):
        for label, model in models.items():
            with PeakMemory(args.device) as memory:
                seconds[label].append(run_once(model, images, args.device))
            peaks[label] = max(peaks[label], memory.megabytes)
            progress.update(status=f'timed run {repeat + 1}/{args.repeats}')
    results = {}
    for label, model in models.items():
        median = statistics.median(seconds[label])
        results[label] = dict(ms_per_image=1000 * median / images.shape[0],
                              images_per_s=images.shape[0] / median, peak_mb=peaks[label])
        results[label].update({name: value / images.shape[0] for name, value in
                               section_times(model, images, args.device).items()})
        progress.update(status=f'profiled {label}')
    progress.close()
    return results


def variants(args) -> List[Tuple[str, dict]]:
    modes = args.compare_modes or [None]
    precisions = args.compare_precisions or [None]
    windows = [None, 1] if args.compare_windows else [None]
    found = []
    for mode in modes:
        for precision in precisions:
            for crop_batch in windows:
                overrides, label = {}, []
                if mode:
                    overrides['backbone.dense_mode'] = mode
                    label.append(mode)
                if precision:
                    overrides['backbone.precision'] = precision
                    label.append(precision)
                if crop_batch:
                    overrides['test_cfg.crop_batch_size'] = crop_batch
                    label.append('per-crop')
                elif args.compare_windows:
                    label.append('batched')
                found.append((' '.join(label) or 'config', overrides))
    return found


def benchmark_images(args, cfg: Config) -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.batch_size, 3, *args.input_size),
                           generator=generator, dtype=torch.uint8).to(args.device)
    models = {label: build_model(cfg, args.device, **overrides)
              for label, overrides in track(variants(args), len(variants(args)),
                                            'benchmark: building', 'models')}
    rows = list(measure(models, images, args).items())
    baseline = rows[0][1]['ms_per_image']
    memory_kind = 'CUDA allocated' if args.device.startswith('cuda') else 'resident set'
    header = (f'{"variant":<24}{"ms/img":>10}{"img/s":>9}{"backbone":>10}{"CRA":>8}'
              f'{"DSI":>8}{"head":>8}{"peak MB":>10}{"ratio":>8}')
    print(f'input {args.input_size[0]}x{args.input_size[1]}, batch {args.batch_size}, '
          f'device {args.device}, median of {args.repeats}; section times in ms/img '
          f'(one profiled run); peak MB: {memory_kind} above the built model, per run')
    print(header)
    for label, row in rows:
        print(f'{label:<24}{row["ms_per_image"]:>10.1f}{row["images_per_s"]:>9.2f}'
              f'{row["clipseg.backbone"]:>10.1f}{row["clipseg.cra"]:>8.1f}'
              f'{row["clipseg.dsi"]:>8.1f}{row["clipseg.head"]:>8.1f}{row["peak_mb"]:>10.0f}'
              f'{row["ms_per_image"] / baseline:>8.2f}')
    if args.run_images:
        report_text_share(next(iter(models.values())).decode_head, baseline / 1000, args)


def report_text_share(head: torch.nn.Module, seconds_per_image: float, args) -> None:
    """The one-off text encoding (no cache) against a run of ``--run-images`` images."""
    prompts = sum(map(len, head.text_classes)) * len(head.templates)
    synchronize(args.device)
    start = time.perf_counter()
    with torch.no_grad(), Progress(1, f'benchmark: encoding {prompts} prompts',
                                   'passes') as progress:
        head.text_embedder.class_embeddings(head.text_classes, head.templates, None)
        synchronize(args.device)
        progress.update()
    text = time.perf_counter() - start
    run = text + args.run_images * seconds_per_image
    print(f'text encoding, once per run without the disk cache: {prompts} prompts in '
          f'{text:.2f} s = {100 * text / run:.1f}% of a {args.run_images}-image run of the '
          f'first variant ({text / seconds_per_image:.1f} images\' time)')


def benchmark_text(args, cfg: Config) -> None:
    head = build_model(cfg, args.device).decode_head
    if args.text_classes is not None and args.text_classes > len(head.text_classes):
        raise UserInputError(f'--text-classes {args.text_classes}: the config has '
                             f'{len(head.text_classes)} classes.')
    classes = head.text_classes[:args.text_classes] if args.text_classes else head.text_classes
    templates = resolve_templates(cfg.model.decode_head.get('templates', 'openai_imagenet'))
    prompts = [template.replace('{}', name) for names in classes for name in names
               for template in templates]
    num_names = sum(len(names) for names in classes)
    print(f'{len(classes)} classes ({num_names} names with synonyms) x {len(templates)} '
          f'templates = {len(prompts)} prompts')
    timings = {}
    for label, truncate in (('all positions', False), ('cut to prompt length', True)):
        synchronize(args.device)
        start = time.perf_counter()
        with Progress(1, f'benchmark: encoding, {label}', 'passes') as progress:
            head.text_embedder.encode_prompts(prompts, truncate=truncate)
            synchronize(args.device)
            progress.update()
        timings[label] = time.perf_counter() - start
        print(f'encode, {label:<22}{timings[label]:>9.2f} s')
    speedup = timings['all positions'] / timings['cut to prompt length']
    print(f'speed-up from cutting: {speedup:.1f}x')
    identity = head.text_cache_identity or 'benchmark'
    with tempfile.TemporaryDirectory() as cache, environment_variable('MMSEG_CLIPSEG_CACHE',
                                                                      cache):
        head.text_embedder.class_embeddings(classes, templates, identity)  # fills the cache
        start = time.perf_counter()
        head.text_embedder.class_embeddings(classes, templates, identity)
        print(f'second run, from the disk cache: {time.perf_counter() - start:.3f} s')


@contextlib.contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """Set ``os.environ[name]`` for the ``with`` block only, then restore it."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def main(argv=None) -> None:
    args = parse_args(argv)
    check_arguments(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    options = parse_cfg_options(args.cfg_options)
    if args.random_weights:
        options['model.clip.pretrained'] = None
    cfg = load_config(args.config, options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if args.text:
        benchmark_text(args, cfg)
    else:
        benchmark_images(args, cfg)


if __name__ == '__main__':
    sys.exit(run_cli(main))

"""Measuring inference of a built model: time per batch, the time of each labelled section
(backbone, CRA, DSI, head), peak memory, and variants of one config to compare
(``tools/benchmark.py``)."""
import copy
import ctypes
import gc
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch.autograd import profiler_legacy
from torch.profiler import ProfilerActivity, profile

from .progress import Progress

# The labelled ranges (torch.profiler.record_function) of the segmentor's forward pass.
SECTIONS = ('clipseg.backbone', 'clipseg.cra', 'clipseg.dsi', 'clipseg.head')


def build_model(cfg: Config, device: str, **overrides) -> torch.nn.Module:
    """The config's model with ``overrides`` (dotted keys under ``model``) applied."""
    variant = copy.deepcopy(cfg)
    variant.merge_from_dict({f'model.{key}': value for key, value in overrides.items()})
    return MODELS.build(variant.model).to(device).eval()


def synchronize(device: str) -> None:
    """Wait for the GPU's queued work, so that a clock read after it counts that work."""
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run_once(model: torch.nn.Module, images: torch.Tensor, device: str) -> float:
    """Seconds for one prediction of the batch ``images`` (uint8, (N, 3, H, W), on
    ``device``), preprocessing included."""
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


def measure(models: Dict[str, torch.nn.Module], images: torch.Tensor, device: str,
            warmup: int, repeats: int) -> Dict[str, Dict[str, float]]:
    """Median timings, peak memory and section split of every variant.

    The timed runs of the variants are interleaved, so that a change of machine load during
    the benchmark affects every variant alike and their ratios stay meaningful.

    Args:
        models: The variants, by label, built on ``device``.
        images: The batch, uint8, (N, 3, H, W), on ``device``.
        device: Where the models run (``'cpu'``, ``'cuda:0'``, ...).
        warmup: Untimed runs of each variant first.
        repeats: Timed runs of each variant; the median is reported.

    Returns:
        Per label: ``ms_per_image``, ``images_per_s``, ``peak_mb`` and, per image, the
        milliseconds of each of :data:`SECTIONS`.
    """
    # Warm-up, timed and profiled runs of every variant, shown as they are done (stderr).
    progress = Progress(len(models) * (warmup + repeats + 1), 'benchmark', 'runs')
    for label, model in models.items():
        for _ in range(warmup):
            run_once(model, images, device)
            progress.update(status=f'warm-up {label}')
    seconds = {label: [] for label in models}
    peaks = {label: 0.0 for label in models}
    for repeat in range(repeats):
        for label, model in models.items():
            with PeakMemory(device) as memory:
                seconds[label].append(run_once(model, images, device))
            peaks[label] = max(peaks[label], memory.megabytes)
            progress.update(status=f'timed run {repeat + 1}/{repeats}')
    results = {}
    for label, model in models.items():
        median = statistics.median(seconds[label])
        results[label] = dict(ms_per_image=1000 * median / images.shape[0],
                              images_per_s=images.shape[0] / median, peak_mb=peaks[label])
        results[label].update({name: value / images.shape[0] for name, value in
                               section_times(model, images, device).items()})
        progress.update(status=f'profiled {label}')
    progress.close()
    return results


def variants(modes: Optional[Sequence[str]] = None,
             precisions: Optional[Sequence[str]] = None,
             compare_windows: bool = False) -> List[Tuple[str, dict]]:
    """The variants to compare: every combination of the dense ``modes``, the
    ``precisions`` and (``compare_windows``) batched against per-crop windows, each as its
    label and its overrides of the model config (dotted keys under ``model``); the config
    itself when nothing is compared."""
    windows = [None, 1] if compare_windows else [None]
    found = []
    for mode in modes or [None]:
        for precision in precisions or [None]:
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
                elif compare_windows:
                    label.append('batched')
                found.append((' '.join(label) or 'config', overrides))
    return found

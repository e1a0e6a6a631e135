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
import sys
import tempfile
import time


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

from mmseg_clipseg.apis import check_device
from mmseg_clipseg.apis.benchmarking import build_model, measure, synchronize, variants
from mmseg_clipseg.apis.cli import load_config, parse_cfg_options, run_cli
from mmseg_clipseg.apis.progress import Progress, track
from mmseg_clipseg.clip import resolve_templates
from mmseg_clipseg.utils.environment import environment_variable
from mmseg_clipseg.models.settings import check_int
from mmseg_clipseg.utils.errors import UserInputError


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


def benchmark_images(args, cfg: Config) -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.batch_size, 3, *args.input_size),
                           generator=generator, dtype=torch.uint8).to(args.device)
    compared = variants(args.compare_modes, args.compare_precisions, args.compare_windows)
    models = {label: build_model(cfg, args.device, **overrides)
              for label, overrides in track(compared, len(compared), 'benchmark: building',
                                            'models')}
    rows = list(measure(models, images, args.device, args.warmup, args.repeats).items())
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

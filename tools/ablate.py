"""Run the paper's ablations of clipseg on one benchmark and print one table of mIoU.

    python tools/make_synthetic_scenes.py data/x --num-images 24 --seed 1
    python tools/ablate.py configs/clipseg_tiny_synthetic.py --data-root data/x
    python tools/ablate.py configs/clipseg_vitb_voc20.py --only components K

The runner (dataset, CLIP, segmentor, head) is built once. Each variant rebuilds only the
backbone, from the config's backbone settings plus the variant's own, around the same CLIP
weights (the loader shares them), and swaps it into the segmentor: the head, and with it the
text embeddings of the class names, is the same for every variant, so the names are encoded
once. Variants that resolve to settings already run (e.g. ``K=3`` when the config's K is 3)
reuse that result. Every variant is clipseg (``dense_mode='clipseg'``); the first row is the
config as it is.

Groups (``--only``): components (CRA only, DSI only), K, epsilon, tau, cra_layers,
cra_feature, value_path, mix. A variant is a dict of backbone settings in dotted keys, e.g.
``{'cra.threshold': 0.5}``; see ``VARIANT_GROUPS``.
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union


Overrides = Dict[str, Any]
Variant = Tuple[str, Overrides]


def cra_layer_ranges(depth: int) -> List[Variant]:
    """CRA on the early, middle or late third of blocks ``1..L-1`` (the middle third is
    the default, ``floor(L/3)+1 .. floor(2L/3)``)."""
    early = list(range(1, depth // 3 + 1))
    middle = list(range(depth // 3 + 1, 2 * depth // 3 + 1))
    late = list(range(2 * depth // 3 + 1, depth))
    return [(f'layers {name} {layers[0]}-{layers[-1]}', {'cra.layers': layers})
            for name, layers in (('early', early), ('middle', middle), ('late', late))
            if layers]


# The ablation table, as data: group -> variants (name, backbone settings in dotted keys), or
# a function of the model's depth L giving them. Renaming a knob is a change of one line.
VARIANT_GROUPS: Dict[str, Union[List[Variant], Callable[[int], List[Variant]]]] = {
    'components': [('CRA only (K=1)', {'dsi.num_layers': 1}),
                   ('DSI only (no CRA)', {'attention': 'identity'})],
    'K': [(f'K={k}', {'dsi.num_layers': k}) for k in (1, 2, 3, 4)],
    'epsilon': [(f'eps={eps}', {'cra.threshold': eps}) for eps in (0.5, 0.75, 1.0, 2.0)],
    'tau': [(f'tau={name}', {'cra.temperature': tau})
            for name, tau in (('1/6', 1 / 6), ('1', 1.0), ('3', 3.0), ('6', 6.0),
                              ('10', 10.0))],
    'cra_layers': cra_layer_ranges,
    'cra_feature': [(f'feature={feature}', {'cra.feature': feature})
                    for feature in ('residual', 'key', 'query')],
    'value_path': [(f'value_path={path}', {'dsi.value_path': path})
                   for path in ('own', 'final')],
    'mix': [('mix=none', {'cra.mix': 'none'}),
            ('mix=kk w=0.5', {'cra.mix': 'kk', 'cra.mix_weight': 0.5}),
            ('mix=qq w=0.5', {'cra.mix': 'qq', 'cra.mix_weight': 0.5})],
}
FULL = 'clipseg (config)'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--data-root', help='dataset folder (overrides the config)')
    parser.add_argument('--only', nargs='+', metavar='GROUP',
                        help='variant groups to run (default: all): '
                        f'{", ".join(VARIANT_GROUPS)}')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='config overrides applied to every variant')
    parser.add_argument('--work-dir', help='folder for the runner\'s logs and ablation.json '
                        '(default: a temporary folder, no JSON)')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args(sys.argv[1:])  # --help and usage mistakes are answered before torch is imported

import mmseg_clipseg  # noqa: E402,F401  (first: installs the mmcv-lite shim, registers)
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmseg.registry import MODELS

from mmseg_clipseg.apis.cli import check_data_root, load_config, parse_cfg_options, run_cli
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.evaluation.per_class import iou_summaries, per_class_iou, quiet_runner
from mmseg_clipseg.apis.progress import Progress


def group_variants(group: str, depth: int) -> List[Variant]:
    variants = VARIANT_GROUPS[group]
    return variants(depth) if callable(variants) else list(variants)


def with_overrides(settings: Dict[str, Any], overrides: Overrides) -> Dict[str, Any]:
    """A copy of ``settings`` with dotted keys set (``'cra.threshold'`` -> settings['cra']),
    merged as ``--cfg-options`` are (``Config.merge_from_dict``)."""
    groups = {key.split('.')[0] for key in overrides if '.' in key}
    # A group left as None means the backbone's defaults: {} takes the keys set below it.
    cfg = Config({key: {} if value is None and key in groups else value
                  for key, value in copy.deepcopy(dict(settings)).items()})
    cfg.merge_from_dict(overrides)
    return cfg.to_dict()


def _canonical(settings: Dict[str, Any], depth: int) -> str:
    """Settings with the backbone's defaults filled in, as a key to spot repeated variants."""
    try:
        from mmseg_clipseg.models.backbones.clip_dense_vit import CRA_DEFAULTS, DSI_DEFAULTS
        from mmseg_clipseg.models.dense import default_cra_layers
    except ImportError:  # the backbone changed its internals: compare settings as given
        return json.dumps(settings, sort_keys=True, default=str)
    full = dict(settings)
    full['cra'] = {**CRA_DEFAULTS, **(settings.get('cra') or {})}
    full['dsi'] = {**DSI_DEFAULTS, **(settings.get('dsi') or {})}
    if full['cra'].get('layers') is None:
        full['cra']['layers'] = default_cra_layers(depth)
    full['cra']['layers'] = [int(layer) for layer in full['cra']['layers']]
    return json.dumps(full, sort_keys=True, default=str)


def select_groups(only: Optional[Sequence[str]]) -> List[str]:
    if not only:
        return list(VARIANT_GROUPS)
    unknown = [name for name in only if name not in VARIANT_GROUPS]
    if unknown:
        raise UserInputError(f'Unknown ablation group(s) {unknown}; --only takes any of: '
                             f'{", ".join(VARIANT_GROUPS)}.')
    return list(dict.fromkeys(only))


def ablate(config: str, data_root: Optional[str] = None, only: Optional[Sequence[str]] = None,
           cfg_options: Optional[dict] = None,
           work_dir: Optional[str] = None) -> List[Dict[str, Any]]:
    """Evaluate the config and its ablation variants; one row per variant.

    Returns:
        list[dict]: ``group``, ``variant``, ``settings`` (the backbone overrides), the
        per-class ``classes`` and ``iou`` and the summaries (``mIoU``, ...) of each variant,
        the full config first.
    """
    groups = select_groups(only)
    cfg = load_config(config, cfg_options, data_root)
    if cfg.model.get('type') != 'TrainingFreeSegmentor':
        raise UserInputError(f'{config} is not a TrainingFreeSegmentor config; the ablations '
                             'change its CLIPDenseBackbone.')
    dense_mode = cfg.model.backbone.get('dense_mode', 'clipseg')
    if dense_mode != 'clipseg':
        # Every row is a clipseg variant; running another mode under clipseg's labels would
        # be a silently wrong table.
        raise UserInputError(
            f'model.backbone.dense_mode is {dense_mode!r}, but the ablations are of clipseg; '
            'give --cfg-options model.backbone.dense_mode=clipseg, or compare dense modes with '
            'tools/compare_dense_modes.py.')
    cfg.model.backbone.dense_mode = 'clipseg'
    check_data_root(cfg)
    runner = quiet_runner(cfg, work_dir, prefix='ablate_')
    segmentor = runner.model.module if is_model_wrapper(runner.model) else runner.model
    device = next(segmentor.parameters()).device
    depth = len(segmentor.backbone.blocks)
    base_settings = dict(cfg.model.backbone.to_dict())
    base_settings.setdefault('clip', cfg.model.clip.to_dict())

    plan: List[Tuple[str, str, Overrides]] = [('full', FULL, {})]
    for group in groups:
        plan.extend((group, name, overrides) for name, overrides in group_variants(group, depth))

    rows: List[Dict[str, Any]] = []
    done: Dict[str, Dict[str, Any]] = {}
    original = segmentor.backbone
    keys = [_canonical(with_overrides(base_settings, overrides), depth)
            for _, _, overrides in plan]
    progress = Progress(len(set(keys)) * len(runner.test_dataloader.dataset), 'ablate',
                        status=f'1/{len(set(keys))} {FULL}')
    try:
        for (group, name, overrides), key in zip(plan, keys):
            if key not in done:
                segmentor.backbone = (original if not overrides else MODELS.build(
                    with_overrides(base_settings, overrides)).to(device).eval())
                progress.update(0, status=f'{len(done) + 1}/{len(set(keys))} {name}')
                result = per_class_iou(runner.model, runner.test_dataloader,
                                       cfg.test_evaluator, progress)
                result.update(iou_summaries(result['classes'], result['iou']))
                done[key] = result
            rows.append(dict(group=group, variant=name, settings=overrides, **done[key]))
    finally:
        segmentor.backbone = original
        progress.close()
    return rows


def format_table(rows: List[Dict[str, Any]]) -> str:
    metrics = [key for key in rows[0] if key.endswith('mIoU')]
    group_width = max(len('group'), *(len(row['group']) for row in rows)) + 2
    name_width = max(len('variant'), *(len(row['variant']) for row in rows)) + 2
    widths = [max(8, len(metric) + 2) for metric in metrics]
    header = 'group'.ljust(group_width) + 'variant'.ljust(name_width) + ''.join(
        metric.rjust(width) for metric, width in zip(metrics, widths))
    lines = [header, '-' * len(header)]
    previous = None
    for row in rows:
        group = row['group'] if row['group'] != previous else ''
        previous = row['group']
        lines.append(group.ljust(group_width) + row['variant'].ljust(name_width) + ''.join(
            f'{row[metric]:{width}.1f}' for metric, width in zip(metrics, widths)))
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    # Fail on a misspelled group or an unusable folder before the model loads.
    select_groups(args.only)
    if args.work_dir is not None and osp.exists(args.work_dir) \
            and not osp.isdir(args.work_dir):
        raise UserInputError(f'--work-dir {args.work_dir!r} is a file; give a folder for the '
                             'logs and ablation.json.')
    rows = ablate(args.config, args.data_root, args.only, parse_cfg_options(args.cfg_options),
                  args.work_dir)
    print(format_table(rows))
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
        path = osp.join(args.work_dir, 'ablation.json')
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(rows, handle, indent=2)
        print(f'results: {path}')


if __name__ == '__main__':
    logging.getLogger().setLevel(logging.WARNING)
    sys.exit(run_cli(main))

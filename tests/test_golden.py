"""Golden outputs: the tiny trained model's labels on four fixed scenes, for every dense mode
and for the background rules, stored in tests/data/golden_labels.npz.

Any numeric change anywhere in the pipeline (preprocessing, backbone, dense modes, text side,
decision rule, resizing) that moves a label, or a class's mean probability, fails here. After
an intended change, regenerate the file and commit it with the change:

    python tests/test_golden.py --regenerate

The file holds the scenes' images too, so that a change of the scene generator does not
change what is tested.
"""
import argparse
import os
import os.path as osp
from typing import Any, Dict, Tuple

import numpy as np
import pytest

GOLDEN_FILE = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'golden_labels.npz')
SCENES_SEED = 2022
NUM_SCENES = 4
SYNONYMS = [['grass', 'lawn'], 'water', 'sand', ['rock', 'stone'], ['circle', 'disc'],
            'square', 'triangle']
# name: (model options, segment() arguments)
CASES: Dict[str, Tuple[Dict[str, Any], Dict[str, Any]]] = {
    **{mode: ({'backbone.dense_mode': mode}, dict(class_names='synthetic'))
       for mode in ('clipseg', 'maskclip', 'sclip', 'clearclip', 'naclip', 'vanilla')},
    # Per-name logits, max over synonyms.
    'clipseg_synonyms': ({}, dict(class_names=SYNONYMS)),
    # Background as a text class with its own names, and the probability threshold.
    'clipseg_background_text': (
        {'decode_head.background': 'text', 'decode_head.prob_thd': 0.5},
        dict(class_names=['background', 'grass', 'water', 'circle', 'square', 'triangle'],
             background='text', background_names=['sand', 'rock'])),
    # The former rule: class 0 not encoded, low-confidence pixels are background.
    'clipseg_background_threshold': (
        {'decode_head.background': 'threshold', 'decode_head.prob_thd': 0.6},
        dict(class_names=['background', 'grass', 'water', 'sand', 'rock', 'circle'],
             background='threshold')),
}
# Mean class probabilities may move by float rounding (thread counts, BLAS builds).
PROBABILITY_TOLERANCE = dict(rtol=1e-4, atol=1e-6)
# A label may differ only where the decision is a float tie: the top two class probabilities,
# or the top probability and the case's prob_thd, closer than this.
TIE = 1e-4


def scenes() -> np.ndarray:
    """(N, 64, 64, 3) uint8 RGB scenes from the synthetic generator."""
    from mmseg_clipseg.datasets.synthetic_scenes import generate_scenes
    return np.stack([scene.image for scene in generate_scenes(NUM_SCENES, seed=SCENES_SEED)])


def run_case(name: str, images: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (N, H, W) uint8, mean class probabilities (N, K) float32 and, per pixel, the
    decision's margin (N, H, W) of one case."""
    from mmseg_clipseg.apis import init_segmentor, segment
    options, arguments = CASES[name]
    segmentor = init_segmentor('tiny-synthetic', device='cpu', **options)
    results = segment(segmentor, list(images), return_probabilities=True, **arguments)
    labels = np.stack([result.labels for result in results]).astype(np.uint8)
    probabilities = np.stack([result.probabilities for result in results])
    means = probabilities.mean(axis=(2, 3)).astype(np.float32)
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    margin = top_two[:, 1] - top_two[:, 0]
    if 'decode_head.prob_thd' in options:
        margin = np.minimum(margin, np.abs(top_two[:, 1] - options['decode_head.prob_thd']))
    return labels, means, margin


def regenerate(path: str = GOLDEN_FILE) -> None:
    images = scenes()
    arrays = {'images': images}
    for name in CASES:
        arrays[f'{name}/labels'], arrays[f'{name}/mean_probabilities'], _ = run_case(
            name, images)
        print(f'{name:>30s}: classes present {np.unique(arrays[f"{name}/labels"]).tolist()}')
    os.makedirs(osp.dirname(path), exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f'wrote {path} ({osp.getsize(path) / 1024:.0f} KiB)')


@pytest.fixture(scope='module')
def golden():
    if not osp.isfile(GOLDEN_FILE):
        pytest.fail(f'{GOLDEN_FILE} is missing; run python tests/test_golden.py --regenerate')
    with np.load(GOLDEN_FILE) as data:
        return {key: data[key] for key in data.files}


def test_golden_file_covers_every_case(golden):
    assert golden['images'].shape == (NUM_SCENES, 64, 64, 3)
    assert sorted(key.split('/')[0] for key in golden if key != 'images') == \
        sorted([name for name in CASES] * 2)


@pytest.mark.parametrize('name', CASES)
def test_labels_match_the_golden_file(golden, name):
    labels, means, margin = run_case(name, golden['images'])
    expected = golden[f'{name}/labels']
    assert labels.shape == expected.shape
    changed = labels != expected
    assert not (changed & (margin >= TIE)).any(), (
        f'{name}: {changed.mean():.2%} of the labels changed; if intended, run '
        'python tests/test_golden.py --regenerate')
    assert changed.mean() < 1e-3, f'{name}: {changed.mean():.2%} of the labels changed'
    np.testing.assert_allclose(means, golden[f'{name}/mean_probabilities'],
                               **PROBABILITY_TOLERANCE)


def test_golden_scenes_are_still_the_generator_scenes(golden):
    """Not required for the labels (the images are stored), but a changed generator should be
    noticed."""
    np.testing.assert_array_equal(scenes(), golden['images'])


def test_the_cases_differ(golden):
    """Each case tests something of its own: no two give the same labels."""
    labels = {name: golden[f'{name}/labels'].tobytes() for name in CASES}
    assert len(set(labels.values())) == len(labels)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--regenerate', action='store_true',
                        help=f'recompute the golden outputs into {GOLDEN_FILE}')
    if not parser.parse_args().regenerate:
        parser.error('nothing to do; give --regenerate (the tests run under pytest)')
    regenerate()

"""One palette per vocabulary: the demo's overlay and tools/test.py --show-dir colour a class
alike, and --show-dir shows image, ground truth and prediction side by side, readable."""
import runpy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.datasets.palette import label_colormap, palette_for
from mmseg_clipseg.datasets.synthetic_scenes import CLASSES, PALETTE
from mmseg_clipseg.apis.visualization import render_overlay, render_panels

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / 'configs' / 'clipseg_tiny_synthetic.py')


def tool(name: str) -> dict:
    return runpy.run_path(str(REPO / 'tools' / f'{name}.py'))


def test_a_benchmark_vocabulary_gets_its_dataset_palette():
    from mmseg.datasets import CityscapesDataset
    assert palette_for(list(CLASSES)) == [list(colour) for colour in PALETTE]
    # Names compared up to case and spaces; synonyms count by their first name.
    city = [[name.title(), 'x'] for name in CityscapesDataset.METAINFO['classes']]
    assert palette_for(city) == [list(c) for c in CityscapesDataset.METAINFO['palette']]
    assert palette_for(['cat', 'grass', 'sky']) == label_colormap(3)


def _colours(picture: np.ndarray) -> set:
    return set(map(tuple, picture.reshape(-1, 3).tolist()))


def test_overlay_uses_the_vocabulary_palette():
    labels = np.repeat(np.arange(len(CLASSES)), 10)[None].repeat(8, axis=0)
    image = np.zeros((*labels.shape, 3), dtype=np.uint8)
    overlay = np.asarray(render_overlay(image, labels, list(CLASSES)))
    water = tuple(PALETTE[CLASSES.index('water')])
    assert water in _colours(overlay)  # the legend's swatch


def test_panels_leave_ignored_pixels_uncoloured_and_enlarge_small_images():
    image = np.full((16, 16, 3), 7, dtype=np.uint8)
    truth = np.full((16, 16), 255)
    truth[:8] = 0
    picture = np.asarray(render_panels(image, [('ground truth', truth),
                                               ('prediction', np.zeros((16, 16), int))],
                                       ['grass', 'water']))
    assert picture.shape[0] >= 256 and picture.shape[1] >= 3 * 256
    title = picture.shape[0] - 256  # the titles' band above the panels
    assert (picture[-1, 256 + 10] == 7).all()  # ignored: the image itself
    assert not (picture[title + 10, 256 + 10] == 7).all()  # labelled: coloured


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('palette_scenes')
    tool('make_synthetic_scenes')['write_scenes'](str(root), num_images=1, seed=1)
    return root


def test_demo_and_show_dir_colour_a_class_alike(scenes, tmp_path, capsys):
    image = scenes / 'img_dir' / 'val' / '000000.png'
    demo_out = tmp_path / 'demo.png'
    assert run_cli(tool('demo')['main'], [str(image), '--model', 'tiny-synthetic',
                                          '--classes', 'synthetic', '--out',
                                          str(demo_out)]) == 0
    show_dir = tmp_path / 'show'
    assert run_cli(tool('test')['main'], [TINY, '--data-root', str(scenes), '--work-dir',
                                          str(tmp_path / 'work'), '--show-dir',
                                          str(show_dir)]) == 0
    capsys.readouterr()
    shown, = show_dir.glob('**/vis_image/*.png')
    demo_colours = _colours(np.asarray(Image.open(demo_out).convert('RGB')))
    show_colours = _colours(np.asarray(Image.open(shown).convert('RGB')))
    # The legends' swatches: every class the prediction has, in the dataset's colour.
    swatches = {tuple(colour) for colour in PALETTE} & demo_colours
    assert tuple(PALETTE[CLASSES.index('water')]) in swatches
    assert swatches <= show_colours
    picture = Image.open(shown)
    assert picture.height >= 256 and picture.width >= 3 * 256  # image | truth | prediction


def test_visualizer_draws_panels_for_mmseg_callers():
    """What MMSeg's visualization hook and MMSegInferencer call: add_datasample, get_image."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmseg_clipseg.engine import SideBySideVisualizer
    visualizer = SideBySideVisualizer(name='test_visualizer_draws_panels')
    visualizer.dataset_meta = dict(classes=list(CLASSES))  # no palette: palette_for's
    sample = SegDataSample(pred_sem_seg=PixelData(data=torch.ones(1, 32, 32, dtype=torch.long)))
    visualizer.add_datasample('x', np.zeros((32, 32, 3), np.uint8), sample, draw_gt=False)
    drawn = visualizer.get_image()
    assert drawn.shape[0] > 256 and drawn.shape[1] > 2 * 256  # image | prediction
    assert tuple(PALETTE[1]) in _colours(drawn)  # water's swatch in the dataset's colour


def test_visualizer_honours_alpha_and_saves_what_it_draws(tmp_path):
    """``alpha`` (a config key, and what MMSegInferencer's ``opacity`` sets) weighs the
    colours as in SegLocalVisualizer; ``out_file`` holds the picture get_image() returns."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmseg_clipseg.engine import SideBySideVisualizer
    sample = SegDataSample(pred_sem_seg=PixelData(data=torch.ones(1, 32, 32, dtype=torch.long)))
    image = np.zeros((32, 32, 3), np.uint8)
    opaque = SideBySideVisualizer(name='test_visualizer_honours_alpha', alpha=1.0)
    opaque.dataset_meta = dict(classes=list(CLASSES))
    out_file = tmp_path / 'deep' / 'drawn.png'
    opaque.add_datasample('x', image, sample, draw_gt=False, out_file=str(out_file))
    drawn = opaque.get_image()
    assert (drawn[-1, 256 + 10] == PALETTE[1]).all()  # the prediction panel: water, opaque
    assert (np.asarray(Image.open(out_file).convert('RGB')) == drawn).all()
    default = SideBySideVisualizer(name='test_visualizer_default_alpha')
    default.dataset_meta = dict(classes=list(CLASSES))
    default.add_datasample('x', image, sample, draw_gt=False)
    expected = (0.55 * np.array(PALETTE[1])).round()  # the demo's weight over black
    assert (default.get_image()[-1, 256 + 10] == expected).all()

"""tools/ablate.py: the ablation table on a few synthetic scenes, with the tiny shipped CLIP."""
import json
import math
import runpy
from pathlib import Path

import pytest

from mmseg_clipseg.apis.cli import run_cli
from mmseg_clipseg.clip.text_encoder import TextEmbedder
from mmseg_clipseg.models.dense import default_cra_layers

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / 'configs' / 'clipseg_tiny_synthetic.py')
# Two groups keep the test short; 'mix' needs the backbone's cra.mix knob.
GROUPS = ['components', 'mix']


def tool(name: str) -> dict:
    return runpy.run_path(str(REPO / 'tools' / name))


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('ablate_scenes')
    tool('make_synthetic_scenes.py')['write_scenes'](str(root), num_images=6, seed=1)
    return str(root)


@pytest.fixture(scope='module')
def ablation(scenes):
    """The rows of two groups, and how often the head asked for text embeddings."""
    calls = []
    original = TextEmbedder.class_embeddings

    def counting(self, *args, **kwargs):
        calls.append(args[0])
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TextEmbedder, 'class_embeddings', counting)
        rows = tool('ablate.py')['ablate'](CONFIG, scenes, only=GROUPS)
    return rows, calls


def test_table_has_the_variants_and_valid_miou(ablation):
    rows, _ = ablation
    ablate = tool('ablate.py')
    expected = [('full', ablate['FULL'])] + [
        (group, name) for group in GROUPS for name, _ in ablate['VARIANT_GROUPS'][group]]
    assert [(row['group'], row['variant']) for row in rows] == expected
    for row in rows:
        assert 0.0 <= row['mIoU'] <= 100.0
        assert len(row['iou']) == len(row['classes'])
    table = ablate['format_table'](rows).splitlines()
    assert table[0].split() == ['group', 'variant', 'mIoU', 'stuff', 'mIoU', 'shape', 'mIoU']
    assert len(table) == 2 + len(rows)
    for line, row in zip(table[2:], rows):
        assert row['variant'] in line and f'{row["mIoU"]:.1f}' in line


def test_text_is_encoded_once_for_all_variants(ablation):
    rows, calls = ablation
    assert len(rows) == 6 and len(calls) == 1


def test_variants_equal_to_the_config_reuse_its_result(ablation):
    rows, _ = ablation
    by_name = {row['variant']: row for row in rows}
    # mix='none' is the backbone's default: the same settings as the config.
    assert by_name['mix=none']['iou'] == by_name['clipseg (config)']['iou']
    # A changed backbone changes the numbers: the swap reaches the segmentor.
    assert by_name['DSI only (no CRA)']['iou'] != by_name['clipseg (config)']['iou']


def test_full_row_equals_compare_dense_modes(ablation, scenes):
    rows, _ = ablation
    compared = tool('compare_dense_modes.py')['compare'](CONFIG, scenes, ['clipseg'])
    assert rows[0]['variant'] == 'clipseg (config)'
    assert rows[0]['mIoU'] == pytest.approx(compared['clipseg']['mIoU'], abs=1e-9)
    assert all(math.isclose(a, b, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
               for a, b in zip(rows[0]['iou'], compared['clipseg']['iou']))


def test_layer_ranges_follow_the_depth():
    ranges = dict(tool('ablate.py')['cra_layer_ranges'](12))
    assert list(ranges.values()) == [{'cra.layers': [1, 2, 3, 4]},
                                     {'cra.layers': [5, 6, 7, 8]},
                                     {'cra.layers': [9, 10, 11]}]
    assert ranges['layers middle 5-8']['cra.layers'] == default_cra_layers(12)
    tiny = [name for name, _ in tool('ablate.py')['cra_layer_ranges'](6)]
    assert tiny == ['layers early 1-2', 'layers middle 3-4', 'layers late 5-5']


def test_command_line_prints_the_table_and_writes_json(scenes, tmp_path, capsys):
    main = tool('ablate.py')['main']
    assert run_cli(main, [CONFIG, '--data-root', scenes, '--only', 'value_path',
                          '--work-dir', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'value_path=final' in out and 'clipseg (config)' in out
    saved = json.loads((tmp_path / 'ablation.json').read_text())
    assert [row['variant'] for row in saved] == ['clipseg (config)', 'value_path=own',
                                                 'value_path=final']


def test_unknown_group_is_a_clean_error(scenes, capsys):
    main = tool('ablate.py')['main']
    assert run_cli(main, [CONFIG, '--data-root', scenes, '--only', 'epsilonn']) == 1
    assert "Unknown ablation group(s) ['epsilonn']" in capsys.readouterr().err


def test_overrides_merge_below_groups_left_as_defaults():
    with_overrides = tool('ablate.py')['with_overrides']
    base = {'cra': {'threshold': 0.75, 'layers': None}, 'dsi': None, 'precision': 'fp32'}
    merged = with_overrides(base, {'cra.threshold': 0.5, 'dsi.num_layers': 2,
                                   'attention': 'identity'})
    assert merged == {'cra': {'threshold': 0.5, 'layers': None}, 'dsi': {'num_layers': 2},
                      'precision': 'fp32', 'attention': 'identity'}
    assert base['cra']['threshold'] == 0.75 and base['dsi'] is None  # a copy

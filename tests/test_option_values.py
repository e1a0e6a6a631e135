"""``--cfg-options`` values: MMEngine's config syntax (literals, ``dict(...)``, nesting) read
without evaluating anything, mmengine's bare-word forms, and one clear line for a value that
does not parse."""
import runpy
from pathlib import Path

import pytest

from mmseg_clipseg.apis.cli import parse_cfg_options, run_cli
from mmseg_clipseg.utils.errors import UserInputError
from mmseg_clipseg.apis.option_values import parse_option_value

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('text,value', [
    # Python literals, as in a config file
    ('None', None), ('True', True), ('3', 3), ('-1', -1), ('0.1', 0.1), ('1e-3', 0.001),
    ("'a photo of {}.'", 'a photo of {}.'), ('"a, b"', 'a, b'),
    ('(448, 448)', (448, 448)), ('[]', []), ('[[1, 2], [3, [4, 5]]]', [[1, 2], [3, [4, 5]]]),
    ("{'steps': 10}", {'steps': 10}),
    # dict(...) calls, nested
    ('dict()', {}),
    ("dict(model_name='ViT-L-14', pretrained='openai', quick_gelu=True)",
     dict(model_name='ViT-L-14', pretrained='openai', quick_gelu=True)),
    ('dict(steps=10, dilations=(8, 16))', dict(steps=10, dilations=(8, 16))),
    ("dict(a=dict(b=[1, (2, 3)]), c=None)", dict(a=dict(b=[1, (2, 3)]), c=None)),
    ("{'a': dict(b=[1, 2])}", {'a': {'b': [1, 2]}}),
    # mmengine's bare words, spaces kept
    ('true', True), ('FALSE', False), ('maskclip', 'maskclip'), ('ViT-L-14', 'ViT-L-14'),
    ('/data/my file.bin', '/data/my file.bin'), ('/data/file (1).bin', '/data/file (1).bin'),
    ('1,2', [1, 2]), ('traffic light,fire hydrant', ['traffic light', 'fire hydrant']),
    ('[big cat, small dog]', ['big cat', 'small dog']), ('[a, (1, 2)]', ['a', (1, 2)]),
    ('[ViT-L-14, ViT-B-16]', ['ViT-L-14', 'ViT-B-16']), ('[a, b,]', ['a', 'b']),
    ('dict(model_name=ViT-L-14, pretrained=openai)',
     dict(model_name='ViT-L-14', pretrained='openai')),
    ('', ''),
])
def test_values_in_config_syntax(text, value):
    parsed = parse_option_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize('text,message', [
    ('[3,4', r"the '\[' is never closed"),
    ('dict(steps=10, dilations=(8, 16)', r"the '\(' is never closed"),
    ('3,4]', r"the '\]' at character 4 closes no bracket"),
    ('(]', r"the '\]' at character 2 closes no bracket"),
    ("'abc", "the quote ' at character 1 is never closed"),
    ("__import__('os').system('ls')", r'may call dict\(...\) only; nothing is evaluated'),
    ('[range(3)]', r'may call dict\(...\) only'),
    ('dict(1, 2)', r'dict\(...\) takes KEY=VALUE items only'),
    ('dict(**x)', r'dict\(...\) takes KEY=VALUE items only'),
    ("{**x}", r'\*\* is not allowed'),
    ('dict(a=1, 2)', r"'2' in dict\(...\) is not KEY=VALUE"),
    ('{1, 2}', 'is not a dict'),
    ('[a,,b]', 'empty item between two commas'),
])
def test_values_that_do_not_parse_are_one_clear_error(text, message):
    with pytest.raises(UserInputError, match=message):
        parse_option_value(text)


def test_the_option_names_the_item_and_the_syntax():
    with pytest.raises(UserInputError) as error:
        parse_cfg_options(['model.backbone.cra.layers=[3,4'])
    message = str(error.value)
    assert message.startswith("--cfg-options model.backbone.cra.layers=[3,4: '[3,4': the '['")
    assert 'dict(steps=10, dilations=(8, 16))' in message and '\n' not in message
    options = parse_cfg_options([
        "model.clip=dict(model_name='ViT-L-14', pretrained='openai')",
        'model.test_cfg.pamr=dict(steps=10, dilations=(8, 16))'])
    assert options == {'model.clip': dict(model_name='ViT-L-14', pretrained='openai'),
                       'model.test_cfg.pamr': dict(steps=10, dilations=(8, 16))}


# --- every tool that reads --cfg-options, once with the README's dict(...) form -----------

# The README's `model.clip=dict(...)`, with the tiny CLIP shipped in the package.
CLIP_OPTION = ("model.clip=dict(model_name='clipseg-tiny-synth', pretrained='synthetic', "
               "quick_gelu=False)")
PAMR_OPTION = 'model.test_cfg.pamr=dict(steps=1, dilations=(1, 2))'
CONFIG = 'configs/clipseg_tiny_synthetic.py'


@pytest.fixture(scope='module')
def two_scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp('scenes') / 'scenes'
    main = runpy.run_path(str(REPO / 'tools' / 'make_synthetic_scenes.py'))['main']
    assert run_cli(main, [str(folder), '--num-images', '2', '--seed', '3']) == 0
    return folder


@pytest.mark.parametrize('tool,argv', [
    ('test', [CONFIG, '--data-root', '{scenes}', '--check', '--work-dir', '{tmp}/w']),
    ('ablate', [CONFIG, '--data-root', '{scenes}', '--only', 'components']),
    ('compare_dense_modes', [CONFIG, '--data-root', '{scenes}', '--modes', 'clipseg']),
    ('benchmark', [CONFIG, '--device', 'cpu', '--input-size', '64', '64', '--repeats', '1',
                   '--warmup', '0', '--run-images', '1']),
    ('demo', ['{scenes}/img_dir/val/000000.png', '--model', CONFIG, '--classes', 'synthetic',
              '--out', '{tmp}/overlay.png']),
    ('infer', ['{scenes}/img_dir/val', '--model', CONFIG, '--classes', 'grass, water, rock',
               '--out-dir', '{tmp}/labels']),
])
def test_every_tool_takes_dict_options(tool, argv, two_scenes, tmp_path, monkeypatch, capsys):
    """Each tool that parses --cfg-options runs with `dict(...)` values (tools/results_table.py
    hands its options to tools/test.py unparsed)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('MMSEG_CLIPSEG_DEBUG', raising=False)
    main = runpy.run_path(str(REPO / 'tools' / f'{tool}.py'))['main']
    argv = [arg.format(scenes=two_scenes, tmp=tmp_path) for arg in argv]
    argv = [str(REPO / arg) if arg == CONFIG else arg for arg in argv]
    status = run_cli(main, [*argv, '--cfg-options', CLIP_OPTION, PAMR_OPTION])
    assert status == 0, capsys.readouterr().err[-2000:]

"""The options that choose the model and the classes, shared by the demo and infer commands."""
import argparse
from typing import Sequence


def add_model_arguments(parser: argparse.ArgumentParser, model_help: str,
                        model_flags: Sequence[str] = ('--model',)) -> None:
    """Add --classes, the model, --device, --cfg-options, --templates, --background,
    --background-names and --recursive.

    ``--cfg-options`` stays a list of ``KEY=VALUE`` strings here; the command reads the values
    with :func:`mmseg_clipseg.apis.cli.parse_cfg_options` once the package is imported.
    """
    parser.add_argument('--classes', required=True,
                        help='class names: "cat, grass, sky"; with synonyms "cat, kitty; '
                        'grass; sky" (semicolons between classes, commas between synonyms, '
                        'first name = the class); a names file (one class per line, '
                        'synonyms after commas); or a benchmark key (voc20, ade150, ...)')
    parser.add_argument(*model_flags, dest='model', default='vitb', help=model_help)
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    add_cfg_options_argument(parser, 'model settings, e.g. backbone.dense_mode=maskclip '
                             'clip.pretrained=/path/ViT-B-16.pt (a "model." prefix is allowed)')
    parser.add_argument('--templates', nargs='+', metavar='TEMPLATE',
                        help="a template-set name, or templates with {} for the name, "
                        "e.g. 'a photo of a {}.' (default: the model's)")
    parser.add_argument('--background', choices=['none', 'text', 'threshold'],
                        help='class 0 of --classes is the background: "text" (encoded by '
                        'its names, or by --background-names) or "threshold" (pixels of low '
                        'confidence); default: none, no background class')
    parser.add_argument('--background-names', metavar='NAMES',
                        help='with --background text: comma-separated names that encode class 0')
    parser.add_argument('--recursive', '-r', action='store_true',
                        help='take the images of sub-folders of folder inputs too')


def add_cfg_options_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--cfg-options KEY=VALUE ...``, kept as strings (see :func:`add_model_arguments`)."""
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE', help=help_text)

"""Command-line helpers, kept here until the inference API takes this module's name; import
them from :mod:`mmseg_clipseg.cli`."""
from .cli import (ConfigOptionsAction, check_data_root, load_config,  # noqa: F401
                  parse_option_value, run_cli)

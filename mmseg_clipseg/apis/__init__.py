"""The user-facing layer: the Python API and what the command-line tools share.

    from mmseg_clipseg.apis import init_segmentor, segment

- :mod:`.inference`: :func:`init_segmentor`, :func:`segment` and their checks.
- :mod:`.cli`: config loading, ``--cfg-options`` and the tools' one-line errors
  (:mod:`.option_values` reads option values).
- :mod:`.image_io`, :mod:`.image_inputs`, :mod:`.image_tool_options`: images in (files,
  arrays, folders) and the image tools' shared options.
- :mod:`.output_folders`, :mod:`.visualization`: what the tools write
  (:mod:`.synthetic_datasets`: the synthetic datasets of ``tools/make_synthetic_*.py``).
- :mod:`.test_set_checks`, :mod:`.work_dirs`: what ``tools/test.py`` checks before a run
  (the test set's files; its output folders and work-dir lock).
- :mod:`.dist_launch`: the launcher behind ``tools/dist_test.sh`` and its workers' checks.
- :mod:`.benchmarking`, :mod:`.results_table`: measuring speed and memory
  (``tools/benchmark.py``); results as the paper's table (``tools/results_table.py``).
- :mod:`.web_app`, :mod:`.web_page`: the web page of ``tools/app.py`` (its logic; its Gradio
  layout, the ``app`` extra).
"""
from .inference import (MODEL_CONFIGS, Segmentation, available_models, check_device,
                        config_root, init_segmentor, model_config, option_paths, segment)

__all__ = ['MODEL_CONFIGS', 'Segmentation', 'available_models', 'check_device', 'config_root',
           'init_segmentor', 'model_config', 'option_paths', 'segment']

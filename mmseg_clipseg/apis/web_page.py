"""The Gradio layout of the web page (:mod:`mmseg_clipseg.apis.web_app` holds its logic)."""
from typing import Any, Dict, List, Optional, Tuple

import gradio as gr

from ..models import DENSE_MODES
from .web_app import BACKGROUND_CHOICES, SegmentationPage, compared_modes

# Pixels of the input and overlay boxes (small images are shown enlarged).
IMAGE_HEIGHT = 320


def build_page(page: SegmentationPage, examples: List[str], default_names: str,
               default_mode: str) -> Any:
    """The Gradio page: input and settings on the left, results on the right."""
    def on_click(image: Optional[Dict[str, Any]], names: str, dense_mode: str,
                 background: str, compare: Optional[List[str]],
                 progress: Any = gr.Progress()) -> Tuple[Any, ...]:
        # Without preprocessing the image arrives as Gradio's file record (its path is
        # checked to be an upload), so that the package's decoder reads it and an
        # unreadable file gets its message instead of a Gradio error.
        image = image if isinstance(image, dict) else {}
        shown = page.run(image.get('path'), names, dense_mode, background, progress,
                         image_name=image.get('orig_name'), compare=compare or ())
        overlay, shares, labels_file, comparison, status = shown.as_tuple()
        return (overlay, shares, labels_file,
                gr.Gallery(comparison, visible=bool(comparison)), status)

    def other_modes(dense_mode: str, compare: List[str]) -> Any:
        return gr.CheckboxGroup(choices=[mode for mode in DENSE_MODES if mode != dense_mode],
                                value=compared_modes(dense_mode, compare))

    # Gradio's own switch: no telemetry, no version check, and no process-wide setting.
    with gr.Blocks(title='mmseg-clipseg', analytics_enabled=False) as blocks:
        gr.Markdown('## Open-vocabulary segmentation with CLIP (CRA + DSI)')
        with gr.Row():
            with gr.Column():
                image = gr.Image(type='filepath', sources=['upload'], label='Image',
                                 height=IMAGE_HEIGHT, elem_id='image')
                names = gr.Textbox(value=default_names, label='Classes', lines=2,
                                   elem_id='names',
                                   info='comma-separated ("cat, grass, sky"); with synonyms '
                                   '"cat, kitty; grass; sky"; or a benchmark key (voc20)')
                with gr.Row():
                    dense_mode = gr.Dropdown(list(DENSE_MODES), value=default_mode,
                                             label='Dense mode', elem_id='dense-mode')
                    background = gr.Radio(list(BACKGROUND_CHOICES), value='none',
                                          label='Background (class 0)', elem_id='background')
                compare = gr.CheckboxGroup(
                    [mode for mode in DENSE_MODES if mode != default_mode], value=[],
                    label='Compare with', elem_id='compare',
                    info='other dense modes, each shown below the main overlay')
                button = gr.Button('Segment', variant='primary', elem_id='segment')
                gr.Examples([[path] for path in examples], [image], label='Synthetic scenes')
            with gr.Column():
                overlay = gr.Image(type='pil', format='png', label='Overlay',
                                   height=IMAGE_HEIGHT, interactive=False, elem_id='overlay')
                # Lossless PNGs, a fixed grid (one image would otherwise fill the width).
                comparison = gr.Gallery(format='png', label='Compared dense modes', columns=3,
                                        fit_columns=False, allow_preview=False,
                                        object_fit='contain', height=IMAGE_HEIGHT,
                                        interactive=False, visible=False,
                                        elem_id='comparison')
                shares = gr.Label(label='Share of the image', show_heading=False,
                                  elem_id='shares')
                labels_file = gr.File(label='Labels (PNG of class indices)',
                                      interactive=False, elem_id='labels')
                status = gr.Markdown(elem_id='status')
        dense_mode.change(other_modes, [dense_mode, compare], compare)
        button.click(on_click, [image, names, dense_mode, background, compare],
                     [overlay, shares, labels_file, comparison, status], preprocess=False,
                     concurrency_limit=1)  # segment() sets the shared segmentor's vocabulary
    return blocks

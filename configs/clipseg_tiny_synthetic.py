# The tiny CLIP trained in this repository (tools/train_tiny_clip.py, weights shipped in the
# package) on the synthetic scenes benchmark: runs offline on CPU in seconds.
#   python tools/make_synthetic_scenes.py data/synthetic_scenes --num-images 200 --seed 1
#   python tools/test.py configs/clipseg_tiny_synthetic.py --data-root data/synthetic_scenes
_base_ = [
    './_base_/models/clipseg.py',
    './_base_/datasets/synthetic.py',
    './_base_/default_runtime.py',
]
model = dict(
    clip=dict(model_name='clipseg-tiny-synth', pretrained='synthetic', quick_gelu=False),
    # The model only knows its training captions' words; prompts in their style.
    decode_head=dict(class_names='synthetic',
                     templates=['a photo of {}.', 'a picture of {}.', '{}.']),
    # 64x64 images = the training resolution: one window per image (see the dataset config).
    test_cfg=dict(mode='whole', crop_size=(64, 64), stride=(64, 64)),
)
default_hooks = dict(logger=dict(interval=10))

# Synthetic texture-and-shape scenes (tools/make_synthetic_scenes.py), 64x64 RGB.
# Protocol: images are evaluated at their native 64x64 size, in one window (`whole`; set in
# configs/clipseg_tiny_synthetic.py). The tiny CLIP was trained on 64x64 images with 8-pixel
# patches, so 64x64 gives exactly its 8x8 patch grid and its own positional embedding (no
# interpolation), and a whole-image window equals a slide with crop = image size. Resizing
# up (e.g. to 128) would only interpolate the positional embedding beyond what the model saw.
dataset_type = 'SyntheticScenesDataset'
data_root = 'data/synthetic_scenes'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline,
    ),
)
# mmseg's IoUMetric, plus a warning for labels outside the classes (it drops them silently).
test_evaluator = dict(type='CheckedIoUMetric', iou_metrics=['mIoU'])

# TCL's evaluation protocol, shared by every benchmark: resize to a short side of 448 keeping
# the aspect ratio, load the labels after the resize so that they keep the original size
# (the metric compares at the original size), one image per GPU, mIoU with mmseg's IoUMetric
# (through CheckedIoUMetric).
# The sliding windows (448x448, stride 224) are the model's `test_cfg`.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    # Up to 8 workers per GPU process (with 2 the GPU waited for data); tools/test.py uses
    # at most its share of the machine's cores, and pins memory only for a GPU
    # (mmseg_clipseg.engine.loader_settings), so that this file reads the same anywhere.
    num_workers=8,
    pin_memory=True,
    persistent_workers=True,  # num_workers is at least 1
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline),
)
# mmseg's IoUMetric, plus a warning for labels outside the classes (it drops them silently).
test_evaluator = dict(type='CheckedIoUMetric', iou_metrics=['mIoU'])

# TCL's evaluation protocol, shared by every benchmark: resize to a short side of 448 keeping
# the aspect ratio, load the labels after the resize so that they keep the original size
# (the metric compares at the original size), one image per GPU, mIoU with mmseg's IoUMetric.
# The sliding windows (448x448, stride 224) are the model's `test_cfg`.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline),
)
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])

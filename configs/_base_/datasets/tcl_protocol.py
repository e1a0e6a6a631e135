# TCL's evaluation protocol, shared by every benchmark: resize to a short side of 448 keeping
# the aspect ratio, load the labels after the resize so that they keep the original size
# (the metric compares at the original size), one image per GPU, mIoU with mmseg's IoUMetric
# (through CheckedIoUMetric).
# The sliding windows (448x448, stride 224) are the model's `test_cfg`.
# mmengine refuses a base config that imports a module unless it declares `_base_` first.
_base_ = []
import os  # noqa: E402  (mmengine drops the module from the config)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    # Workers follow the machine (up to 8 per GPU process): with 2 the GPU waited for data.
    num_workers=max(1, min(8, (os.cpu_count() or 1)
                           // int(os.environ.get('LOCAL_WORLD_SIZE', 1)))),
    pin_memory=True,
    persistent_workers=True,  # num_workers is at least 1
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline),
)
# mmseg's IoUMetric, plus a warning for labels outside the classes (it drops them silently).
test_evaluator = dict(type='CheckedIoUMetric', iou_metrics=['mIoU'])

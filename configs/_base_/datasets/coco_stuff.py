# COCO-Stuff-164k val2017 (171 classes), TCL protocol.
dataset_type = 'COCOStuffDataset'
data_root = 'data/coco_stuff164k'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    # Labels are loaded after Resize so that they keep the original size.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])

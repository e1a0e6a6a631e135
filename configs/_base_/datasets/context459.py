# Pascal Context val, all 459 classes (16-bit labels, 65535 = unlabeled), TCL protocol.
dataset_type = 'PascalContext459Dataset'
data_root = 'data/VOCdevkit/VOC2010'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    # Labels are loaded after Resize so that they keep the original size; this loader keeps
    # the 16-bit labels that mmseg's LoadAnnotations would cast to uint8.
    dict(type='LoadUInt16Annotations'),
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
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext459'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        ignore_index=65535,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)

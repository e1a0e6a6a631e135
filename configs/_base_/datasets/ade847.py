# ADE20K-full val, 847 classes (16-bit labels, 65535 = ignored), TCL protocol.
dataset_type = 'ADE20K847Dataset'
data_root = 'data/ade/ADE20K_847'
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
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        ignore_index=65535,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=65535)

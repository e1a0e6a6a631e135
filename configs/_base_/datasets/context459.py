# Pascal Context val, all 459 classes (16-bit labels, 65535 = unlabeled), TCL protocol.
_base_ = ['./tcl_protocol.py']
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    # mmseg's LoadAnnotations would cast these 16-bit labels to uint8.
    dict(type='LoadUInt16Annotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type='PascalContext459Dataset',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext459'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        ignore_index=65535,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(ignore_index=65535)

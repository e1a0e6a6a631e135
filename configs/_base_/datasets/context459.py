# Pascal Context val, all 459 classes (16-bit labels, 65535 = unlabeled), TCL protocol.
_base_ = ['./tcl_protocol_uint16.py']
test_dataloader = dict(
    dataset=dict(
        type='PascalContext459Dataset',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext459'),
        ann_file='ImageSets/SegmentationContext/val.txt',
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head.
classification = dict(class_names='context459')

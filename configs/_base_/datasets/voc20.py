# Pascal VOC 2012 val without background (20 classes), TCL protocol.
_base_ = ['./tcl_protocol.py']
test_dataloader = dict(
    dataset=dict(
        type='PascalVOC20Dataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head.
classification = dict(class_names='voc20')

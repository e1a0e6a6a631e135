# COCO-Stuff-164k val2017 (171 classes), TCL protocol.
_base_ = ['./tcl_protocol.py']
test_dataloader = dict(
    dataset=dict(
        type='COCOStuffDataset',
        data_root='data/coco_stuff164k',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head.
classification = dict(class_names='coco_stuff')

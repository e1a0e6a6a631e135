# Cityscapes val (19 classes), TCL protocol.
_base_ = ['./tcl_protocol.py']
test_dataloader = dict(
    dataset=dict(
        type='CityscapesDataset',
        data_root='data/cityscapes',
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head.
classification = dict(class_names='cityscapes')

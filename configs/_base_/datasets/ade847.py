# ADE20K-full val, 847 classes (16-bit labels, 65535 = ignored), TCL protocol.
_base_ = ['./tcl_protocol_uint16.py']
test_dataloader = dict(
    dataset=dict(
        type='ADE20K847Dataset',
        data_root='data/ade/ADE20K_847',
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
    ),
)

# The head's classes on this benchmark (METHOD.md, Classification); each
# configs/clipseg_<model>_<benchmark>.py passes them to model.decode_head.
classification = dict(class_names='ade847')

"""Which files a folder input yields (tools/infer.py and tools/demo.py)."""
import os

from mmseg_clipseg.apis.image_inputs import collect_images


def test_folder_listing_skips_hidden_and_output_folders_and_survives_link_loops(tmp_path):
    for name in ('a.png', 'B.JPG', 'notes.txt', '.hidden.png', 'sub/c.png',
                 '.git/d.png', 'out/e.png'):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b'')
    os.symlink('..', tmp_path / 'sub' / 'up')  # a link to the folder above: a loop
    names = [item.name for item in collect_images([str(tmp_path)], recursive=True,
                                                  exclude=str(tmp_path / 'out'))]
    assert names == ['B', 'a', 'sub/c']
    assert [item.name for item in collect_images([str(tmp_path)])] == ['B', 'a']

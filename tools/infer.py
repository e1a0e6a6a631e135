"""Label a collection of images with your own class names: one label PNG per image.

    python tools/infer.py photos/ --recursive --classes "road; car, truck; sky" --out-dir labels
    torchrun --nproc_per_node 4 tools/infer.py photos/ -r --classes ade150 --out-dir labels

The same command as ``mmseg-clipseg-infer``; ``python tools/infer.py --help`` tells all, and
the code is in mmseg_clipseg_cli/infer.py.
"""
import sys

from mmseg_clipseg_cli.infer import main, run  # noqa: F401  (main: tests run it in-process)

if __name__ == '__main__':
    sys.exit(run())

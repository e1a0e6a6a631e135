"""Label a collection of images with your own class names: one label PNG per image.

    mmseg-clipseg-infer photos/ --recursive --classes "road; car, truck; sky" --out-dir labels
    mmseg-clipseg-infer "shots/*.jpg" @more_images.txt --classes voc20 --out-dir labels
    torchrun --nproc_per_node 4 tools/infer.py photos/ -r --classes ade150 --out-dir labels

Inputs: image files, folders (their images; sub-folders too with --recursive), glob
patterns ("shots/**/*.jpg", quoted so that the shell leaves them alone), and list files
(@list.txt or --list list.txt: one input per line, relative to the current folder; blank
lines and lines starting with # are skipped). Folders and globs take the files with an
image extension (.jpg, .png, .tif, ...), and skip hidden files and the --out-dir folder.

Classes (--classes): comma-separated names ("cat, grass, sky"); with synonyms, classes
separated by semicolons and a class's synonyms by commas ("cat, kitty; grass, lawn; sky",
the first name of a class is its name); a names file (one class per line, synonyms after
commas); or a benchmark key (voc20, ade150, cityscapes, ...).

Outputs, under --out-dir, named after the image: a file x.jpg becomes x.png; an image found
in a folder or by a glob keeps its path below the folder or the glob's fixed part
(photos/a/x.jpg, from the folder photos or from "photos/**/*.jpg", becomes a/x.png):
  NAME.png  the class index of every pixel, at the image's size: a palette PNG (8-bit, the
            package's label colours) for up to 256 classes, a 16-bit grey PNG beyond;
  NAME.npy  with --probabilities: every class's probability, float16, shape (K, H, W), K
            classes in --classes order (numpy.load reads it);
  infer_settings.json  the classes (index order), model and options of the run.

Resume: running the same command again skips the images whose outputs are complete (each
file is written under a temporary name and renamed when complete); a run with other
settings into the same --out-dir is refused unless --overwrite (which redoes every image).
Under torchrun each process labels its share of the sorted images (every rank-th image).
"""
import argparse
import sys
from typing import List, Optional

from . import Command
from .model_options import add_model_arguments


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', nargs='*', metavar='INPUT',
                        help='image files, folders, glob patterns or @list files')
    parser.add_argument('--list', action='append', default=[], metavar='FILE',
                        help='a list file: one input per line (may be repeated)')
    parser.add_argument('--out-dir', required=True, help='folder for the outputs')
    add_model_arguments(parser, 'a short name (vitb, vitl, openclip-vitb, ..., '
                        'tiny-synthetic) or a config file (default: vitb)')
    parser.add_argument('--probabilities', action='store_true',
                        help='also write NAME.npy: float16 (K, H, W) class probabilities')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every image, replacing outputs already in --out-dir')
    parser.add_argument('--quiet', '-q', action='store_true',
                        help='no progress bar and no summary')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1; got {args.batch_size}')
    return args


# The console entry point mmseg-clipseg-infer is ``run``.
command = Command(parse_args, 'mmseg_clipseg_cli.infer_run:write_labels')
main, run = command.main, command.run


if __name__ == '__main__':
    sys.exit(run())

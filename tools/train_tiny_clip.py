"""Train a tiny CLIP on procedural scenes, on CPU, so that the pipeline can be run offline
with weights that mean something.

    PYTHONPATH=. python tools/train_tiny_clip.py \\
        --out mmseg_clipseg/clip/weights/clipseg-tiny-synth__synthetic.safetensors

Every step draws a fresh batch of scenes (``mmseg_clipseg/datasets/synthetic_scenes.py``)
with their captions and takes one AdamW step on CLIP's symmetric contrastive loss. The run
is a function of ``--seed`` (scenes, initialisation and batch order), given the same torch
version and thread count. The weights are written as an fp16 safetensors state dict of the
open_clip model; rows of the token embedding that no caption used never received a gradient
and are written as zeros, so the file compresses well. A JSON log line is printed every
``--log-every`` steps. The defaults are the recipe of the shipped weights (200 steps, about
3 minutes on 2 cores; see ``mmseg_clipseg/clip/weights/clipseg-tiny-synth__synthetic.md``).
Half of each batch comes as twin pairs that differ only in their shapes (hard negatives).
"""
import argparse
import json
import math
import os
import os.path as osp
import time

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='output .safetensors file')
    parser.add_argument('--model-name', default='clipseg-tiny-synth')
    parser.add_argument('--steps', type=int, default=200)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--weight-decay', type=float, default=0.1)
    parser.add_argument('--warmup', type=int, default=50, help='linear warm-up steps')
    parser.add_argument('--schedule', choices=['exp', 'cosine'], default='exp',
                        help='after warm-up: halve the rate every --half-life steps (does not '
                        'depend on --steps, so a checkpoint of step k equals a run with '
                        '--steps k), or cosine decay to zero at --steps')
    parser.add_argument('--half-life', type=int, default=300)
    parser.add_argument('--save-every', type=int, default=0,
                        help='also write OUT with .stepN before the suffix every N steps')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--log-every', type=int, default=25)
    parser.add_argument('--shape-size', type=float, nargs=2, default=(18, 34),
                        help='range of the shape diameter in pixels')
    parser.add_argument('--max-shapes', type=int, default=3)
    parser.add_argument('--colour-in-caption', type=float, default=0.0,
                        help='probability that a shape caption names its colour')
    parser.add_argument('--partial-caption', type=float, default=0.0,
                        help='probability that a caption names only the stuff or only the '
                        'shapes')
    parser.add_argument('--twin-fraction', type=float, default=0.5,
                        help='fraction of each batch drawn as twin pairs that differ only in '
                        'their shapes (hard negatives)')
    args = parser.parse_args(argv)
    for name in ('steps', 'batch_size', 'half_life', 'threads', 'log_every', 'max_shapes'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be 1 or more')
    for name in ('warmup', 'save_every'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be 0 or more')
    for name in ('colour_in_caption', 'partial_caption', 'twin_fraction'):
        if not 0 <= getattr(args, name) <= 1:
            parser.error(f'--{name.replace("_", "-")} must be in [0, 1]')
    if not 0 < args.shape_size[0] <= args.shape_size[1]:
        parser.error('--shape-size takes MIN MAX with 0 < MIN <= MAX')
    if not args.lr > 0 or args.weight_decay < 0:
        parser.error('--lr must be > 0 and --weight-decay >= 0')
    return args


if __name__ == '__main__':
    parse_args()  # --help and usage mistakes are answered before torch is imported

import numpy as np  # noqa: E402
import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.loss import ClipLoss

import mmseg_clipseg.clip  # noqa: F401  (registers the package's model configs)
from mmseg_clipseg.datasets.synthetic_scenes import SceneGenerator


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> normalised (B, 3, H, W) float, with CLIP's statistics."""
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (pixels - mean) / std


def learning_rate(step: int, args: argparse.Namespace) -> float:
    """Linear warm-up, then exponential or cosine decay."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    if args.schedule == 'exp':
        return args.lr * 0.5 ** ((step - args.warmup) / args.half_life)
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * 0.5 * (1 + math.cos(math.pi * progress))


def save(model: torch.nn.Module, used_tokens: torch.Tensor, path: str,
         args: argparse.Namespace, steps: int) -> None:
    """Write the model as an fp16 safetensors state dict."""
    from safetensors.torch import save_file
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    state['token_embedding.weight'][~used_tokens] = 0  # never trained: store zeros
    state = {key: value.half().contiguous() if value.is_floating_point() else value
             for key, value in state.items()}
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    save_file(state, path, metadata=dict(model_name=args.model_name, seed=str(args.seed),
                                         steps=str(steps)))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    model = open_clip.create_model(args.model_name, pretrained=None)
    model.output_dict = True
    tokenizer = open_clip.get_tokenizer(args.model_name)
    generator = SceneGenerator(size=model.visual.image_size[0],
                               shape_size=tuple(args.shape_size), max_shapes=args.max_shapes,
                               colour_in_caption=args.colour_in_caption,
                               partial_caption=args.partial_caption)
    # No weight decay on gains, biases, embeddings and the temperature (as in open_clip).
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        is_gain = param.ndim < 2 or 'embedding' in name or 'logit_scale' in name
        (no_decay if is_gain else decay).append(param)
    optimizer = torch.optim.AdamW([dict(params=decay, weight_decay=args.weight_decay),
                                   dict(params=no_decay, weight_decay=0.0)],
                                  lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = ClipLoss()
    used_tokens = torch.zeros(model.token_embedding.num_embeddings, dtype=torch.bool)

    print(json.dumps(dict(event='start', **{k: v for k, v in vars(args).items()},
                          torch=torch.__version__, open_clip=open_clip.__version__,
                          params=sum(p.numel() for p in model.parameters()))), flush=True)
    model.train()
    start = time.time()
    running = []
    for step in range(args.steps):
        scenes = generator.batch(rng, args.batch_size, twin_fraction=args.twin_fraction)
        images = to_tensor(np.stack([scene.image for scene in scenes]))
        tokens = tokenizer([scene.caption for scene in scenes])
        used_tokens[tokens.unique()] = True
        for group in optimizer.param_groups:
            group['lr'] = learning_rate(step, args)
        out = model(images, tokens)
        loss = loss_fn(out['image_features'], out['text_features'], out['logit_scale'])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # as in CLIP: the temperature stays at most 100
            model.logit_scale.clamp_(0, math.log(100))
        running.append(loss.item())
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            print(json.dumps(dict(step=step + 1, loss=round(float(np.mean(running)), 4),
                                  lr=round(learning_rate(step, args), 6),
                                  logit_scale=round(model.logit_scale.exp().item(), 2),
                                  elapsed_s=round(time.time() - start, 1))), flush=True)
            running = []
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            stem, suffix = osp.splitext(args.out)
            save(model, used_tokens, f'{stem}.step{step + 1}{suffix}', args, step + 1)

    # Held-out retrieval accuracy within one batch of fresh scenes (a sanity check).
    model.eval()
    with torch.no_grad():
        scenes = generator.batch(np.random.default_rng(args.seed + 10_000), args.batch_size)
        out = model(to_tensor(np.stack([scene.image for scene in scenes])),
                    tokenizer([scene.caption for scene in scenes]))
        sims = out['image_features'] @ out['text_features'].T
        target = torch.arange(len(scenes))
        i2t = (sims.argmax(1) == target).float().mean().item()
        t2i = (sims.argmax(0) == target).float().mean().item()

    save(model, used_tokens, args.out, args, args.steps)
    print(json.dumps(dict(event='done', train_time_s=round(time.time() - start, 1),
                          heldout_retrieval_i2t=round(i2t, 4),
                          heldout_retrieval_t2i=round(t2i, 4),
                          used_tokens=int(used_tokens.sum()), out=args.out,
                          file_bytes=os.path.getsize(args.out))), flush=True)


if __name__ == '__main__':
    main()

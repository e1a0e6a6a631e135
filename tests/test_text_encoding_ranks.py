"""Two CPU processes (gloo) encode a vocabulary together: each encodes its share of the
prompts, both get the single-process embeddings, and the disk cache is shared."""
import os

import open_clip
import pytest
import torch
import torch.distributed
import torch.multiprocessing

from mmseg_clipseg.clip import TextEmbedder, load_clip
from mmseg_clipseg.clip.text_encoder import encoding_shared_by_ranks

# 7 names x 3 templates = 21 prompts in batches of 4: 6 batches (the last of 1 prompt),
# batches 0, 2, 4 (12 prompts) on rank 0 and 1, 3, 5 (9 prompts) on rank 1.
CLASSES = [('cat', 'kitten'), ('dog', ), ('traffic light', ), ('a very long class name', ),
           ('sky', 'clouds')]
TEMPLATES = ['a photo of a {}.', 'a {}.', 'there is a {} in the scene.']
BATCH_SIZE = 4
SHARES = {0: 12, 1: 9}


@pytest.fixture
def tiny(tiny_clip_cfg, tiny_clip_config_file) -> tuple:
    """What a spawned rank needs to load the tiny model: conftest.py does not run there."""
    return tiny_clip_config_file, tiny_clip_cfg


def _embedder(tiny: tuple) -> TextEmbedder:
    """The tiny text tower, counting the prompts it encodes."""
    clip_cfg = tiny[1]
    embedder = TextEmbedder(load_clip(clip_cfg), clip_cfg['model_name'], batch_size=BATCH_SIZE)
    embedder.encoded_prompts = 0
    encode_tokens = embedder.encode_tokens

    def counting(tokens, truncate=True):
        embedder.encoded_prompts += len(tokens)
        return encode_tokens(tokens, truncate)

    embedder.encode_tokens = counting
    return embedder


def _join(rank: int, world_size: int, folder: str, tiny: tuple) -> None:
    """Start a spawned rank: the tiny model's name registered, one thread, the process group."""
    open_clip.add_model_config(tiny[0])
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        'gloo', init_method=f'file://{folder}/store', rank=rank, world_size=world_size)


def _rank_main(rank: int, world_size: int, folder: str, tiny: tuple, vocabularies: list):
    _join(rank, world_size, folder, tiny)
    try:
        results = []
        embedder = _embedder(tiny)
        with encoding_shared_by_ranks():
            for classes, identity in vocabularies:
                before = embedder.encoded_prompts
                embeddings, index = embedder.class_embeddings(classes, TEMPLATES, identity)
                results.append((embeddings, index, embedder.encoded_prompts - before))
        torch.save(results, os.path.join(folder, f'rank{rank}.pt'))
    finally:
        torch.distributed.destroy_process_group()


def _run_two_ranks(tmp_path, tiny, vocabularies) -> list:
    torch.multiprocessing.spawn(_rank_main, args=(2, str(tmp_path), tiny, vocabularies),
                                nprocs=2)
    return [torch.load(tmp_path / f'rank{rank}.pt') for rank in range(2)]


@pytest.mark.slow
def test_two_ranks_encode_each_prompt_once_and_get_the_single_process_result(tmp_path, tiny):
    vocabulary = [(CLASSES, None), (CLASSES, 'tiny-identity'), (CLASSES, 'tiny-identity')]
    ranks = _run_two_ranks(tmp_path, tiny, vocabulary)
    single = _embedder(tiny)
    expected, expected_index = single.class_embeddings(CLASSES, TEMPLATES)
    assert single.encoded_prompts == 21
    for rank, results in enumerate(ranks):
        for embeddings, index, _ in results:
            torch.testing.assert_close(embeddings, expected, rtol=0, atol=0)
            assert torch.equal(index, expected_index)
        # Without a cache and with an empty one each rank encodes its share; the third call
        # finds the entry rank 0 wrote and encodes nothing.
        assert [encoded for _, _, encoded in results] == [SHARES[rank], SHARES[rank], 0]


def _mismatched_rank_main(rank: int, world_size: int, folder: str, tiny: tuple) -> None:
    _join(rank, world_size, folder, tiny)
    try:
        with encoding_shared_by_ranks():
            _embedder(tiny).class_embeddings(CLASSES[rank:], TEMPLATES)
    except RuntimeError as error:
        with open(os.path.join(folder, f'rank{rank}.error'), 'w') as handle:
            handle.write(str(error))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ranks_with_different_vocabularies_are_refused(tmp_path, tiny):
    torch.multiprocessing.spawn(_mismatched_rank_main, args=(2, str(tmp_path), tiny), nprocs=2)
    for rank in range(2):
        message = (tmp_path / f'rank{rank}.error').read_text()
        assert 'different vocabularies' in message

"""Held-out CLUTRR stories: a test set none of whose stories the model has seen in training.

With names as placeholders and the sentences read as a set, short chains repeat: about 2,100 distinct k = 2 stories
exist, so an independently drawn test set mostly repeats training stories (159 of 300 k = 2 test stories at
``quick``). ``canonical_key`` is a story as the model sees it (placeholder sentences as a multiset, up to the
renumbering a reordering causes, and the query); ``unseen_test_stories`` draws test stories and replaces every one
whose key occurs in training; ``cached_split`` caches the test stories (JSON, through ``srnlib.cache``) keyed by
SPLIT_VERSION and the training stories' parameters.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from .._checks import check_int
from ..cache import key_hash
from ..paths import data_dir
from .dataset import ENTITY_PREFIX, sentence_words
from .stories import (GENERATOR_VERSION, Story, cache_key, cached_stories, check_bool, check_ks, load_stories,
                      save_stories, story_at)


def canonical_key(story: Story) -> tuple:
    """The story as the model sees it, as a hashable key: two stories get the same key exactly when their
    placeholder sentences are the same multiset up to renumbering the placeholders, with the query renumbered along.

    What the model reads (``tokenize``, ``ClutrrDataset``, ``models.KinshipReasoner``): each sentence as lowercase
    tokens with every name replaced by ``@ent<j>``, j numbered by first appearance *in the story's sentence
    order*, plus the query's two placeholders. The sentences are a set to every model (the RN sums over all
    pairs, the SRN and GRN refine a padded set; each sentence is encoded on its own), so the order matters only
    through the numbering it induces: reordering a story's sentences renumbers its placeholders and changes
    nothing else. The key is therefore the smallest ``(sorted sentence token tuples, query placeholders)`` over
    every order of the sentences. It is computed over the distinct first-appearance numberings (a sentence that
    names nobody new does not change the numbering), not over all k! orders. Names are never part of the key, nor
    is the target (a label, not something the model reads; in generated stories it follows from the sentences).
    """
    if not isinstance(story, Story):
        raise TypeError(f"story must be a Story, got {type(story).__name__}")
    names = set(story.people) | set(story.query)
    sentences = [sentence_words(sentence, names) for sentence in story.sentences]
    named = [[word for word in words if word in names] for words in sentences]
    best, seen = None, set()

    def visit(order: dict) -> None:
        nonlocal best
        if tuple(order) in seen:  # the numbering so far decides which sentences can still add a name
            return
        seen.add(tuple(order))
        fresh = [people for people in named if any(name not in order for name in people)]
        if fresh:
            for people in fresh:
                extended = dict(order)
                for name in people:
                    extended.setdefault(name, len(extended))
                visit(extended)
            return
        numbers = dict(order)
        for name in story.query:  # as ``entity_numbers``: query names the sentences do not mention come next
            numbers.setdefault(name, len(numbers))
        key = (tuple(sorted(tuple(f"{ENTITY_PREFIX}{numbers[word]}" if word in numbers else word.lower()
                                  for word in words) for words in sentences)),
               tuple(numbers[name] for name in story.query))
        if best is None or key < best:
            best = key

    visit({})
    return best


def shared_stories(train, test) -> int:
    """How many stories of ``test`` equal some story of ``train`` as the model sees it (``canonical_key``)."""
    seen = {canonical_key(story) for story in train}
    return sum(canonical_key(story) in seen for story in test)


def unseen_test_stories(train, n: int, k=(2, 3, 4), seed: int = 1, shuffle: bool = True,
                        max_candidates: int | None = None) -> tuple[list[Story], dict]:
    """``n`` test stories none of which equals a training story as the model sees it -> (stories, stats).

    Candidates are ``generate``'s stories for ``seed`` in index order, each drawn only while its k still needs
    stories; a candidate whose ``canonical_key`` occurs among ``train``'s is dropped and the next one of that k is
    drawn. The test set keeps ``generate``'s sizes and order (story i has k = ks[i % len(ks)]), so every k keeps its
    share. Test stories may repeat one another (short chains have few distinct stories: about 2,100 for k = 2).
    ``stats`` per k: ``candidates`` drawn, ``repeats_dropped``, ``distinct`` keys among the kept stories.
    Raises RuntimeError when ``max_candidates`` (default 100 n + 1,000) candidates do not give enough stories.
    """
    check_int(n, "n", 0)
    ks = check_ks(k)
    check_int(seed, "seed", 0)
    check_bool(shuffle, "shuffle")
    limit = 100 * n + 1000 if max_candidates is None else check_int(max_candidates, "max_candidates", 1)
    train = list(train)
    if not all(isinstance(story, Story) for story in train):
        raise TypeError("train must hold Story records")
    seen = {canonical_key(story) for story in train}
    wanted = Counter(ks[i % len(ks)] for i in range(n))
    kept = {length: [] for length in wanted}
    stats = {str(length): {"candidates": 0, "repeats_dropped": 0} for length in wanted}
    index = 0
    while any(len(kept[length]) < count for length, count in wanted.items()):
        if index >= limit:
            short = {length: len(kept[length]) for length in wanted}
            raise RuntimeError(f"{limit} candidates gave only {short} test stories unseen in training, not "
                               f"{dict(wanted)}: the training stories cover almost every story of some k")
        length = ks[index % len(ks)]
        if len(kept[length]) < wanted[length]:
            story = story_at(index, length, seed, shuffle)
            stats[str(length)]["candidates"] += 1
            if canonical_key(story) in seen:
                stats[str(length)]["repeats_dropped"] += 1
            else:
                kept[length].append(story)
        index += 1
    for length in wanted:
        stats[str(length)]["distinct"] = len({canonical_key(story) for story in kept[length]})
    position = Counter()
    stories = []
    for i in range(n):  # generate's order: story i has k = ks[i % len(ks)]
        length = ks[i % len(ks)]
        stories.append(kept[length][position[length]])
        position[length] += 1
    return stories, stats


# ------------------------------------------------------------------------------------------------------------ cache
SPLIT_VERSION = 1  # bump when unseen_test_stories changes, so old test caches (and checkpoints) are never reused


def split_key(train_n: int, test_n: int, k=(2, 3, 4), train_seed: int = 0, test_seed: int = 1,
              shuffle: bool = True) -> dict:
    """The parameters that decide ``cached_split``'s test stories (its cache key; also for keying checkpoints)."""
    ks = check_ks(k)
    return {"dataset": "clutrr-test-unseen-in-training", "version": GENERATOR_VERSION,
            "split_version": SPLIT_VERSION, "n": check_int(test_n, "test_n", 0), "k": list(ks),
            "seed": check_int(test_seed, "test_seed", 0), "shuffle": check_bool(shuffle, "shuffle"),
            "train": cache_key(check_int(train_n, "train_n", 0), ks, check_int(train_seed, "train_seed", 0),
                                shuffle)}


def cached_split(train_n: int, test_n: int, k=(2, 3, 4), train_seed: int = 0, test_seed: int = 1,
                 shuffle: bool = True, cache: bool = True,
                 cache_dir: str | os.PathLike | None = None) -> tuple[list[Story], list[Story], dict]:
    """(training stories, test stories of which none equals a training story as the model sees it, stats).

    Training: ``cached_stories(train_n, k, train_seed)``. Test: ``unseen_test_stories(training, test_n, k,
    test_seed)``, cached as ``data/clutrr/clutrr_test_<n>_k<ks>_seed<test_seed>_<hash of split_key>.json`` (the
    key holds SPLIT_VERSION and the training stories' parameters, so a test set drawn for other training stories or
    by another split rule is never reused).
    """
    key = split_key(train_n, test_n, k, train_seed, test_seed, shuffle)
    check_bool(cache, "cache")
    train = cached_stories(train_n, k, train_seed, shuffle, cache, cache_dir)
    if not cache:
        return (train, *unseen_test_stories(train, test_n, k, test_seed, shuffle))
    folder = Path(cache_dir) if cache_dir is not None else data_dir() / "clutrr"
    path = folder / f"clutrr_test_{test_n}_k{'-'.join(map(str, key['k']))}_seed{test_seed}_{key_hash(key)}.json"
    stats: dict = {}
    test = load_stories(path, key, stats)
    if test is None:
        test, stats = unseen_test_stories(train, test_n, k, test_seed, shuffle)
        save_stories(path, key, test, stats)
    return train, test, stats

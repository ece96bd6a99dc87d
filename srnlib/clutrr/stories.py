"""CLUTRR-style stories (Section 3.3 of the paper): a seeded generator, the ``Story`` record, and its JSON cache.

Stories (``Story``): a chain of k base edges through one family tree (``kinship``), one sentence per edge, from 5
templates per base relation, in which pronouns always refer to the nearest preceding name and every sentence names
the gender of its second person (p(i+1)) through a kinship word or a pronoun. By default the k sentences are shuffled
(``shuffle=True``; the RN reads them as a set); with ``shuffle=False`` they follow the chain. The query is (A, B) and
the target is "B is A's target" (composed by ``kinship.compose`` and checked against the tree). ``generate(n, k)``
takes k as an int or a list of ints; story i has k = ks[i % len(ks)], one tree per story, and depends only on
(seed, i).

``cached_stories`` reads / writes ``generate``'s stories as JSON under ``data/clutrr/`` through ``srnlib.cache``
(parameters key + SHA-256 checksum in the file, written atomically; a corrupt or mismatching file is regenerated
with a warning).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from .._checks import check_int, is_int
from ..cache import json_checksum, key_hash, load_json, save_json
from ..paths import data_dir
from .kinship import (COMPOSITION, FEMALE, INVERSE_TYPE, MALE, FamilyTree, compose, gendered, random_tree,
                      relation_in_tree)

GENERATOR_VERSION = 1  # bump when trees, chains or templates change, so old caches are never reused

# Sentence templates per base type: "{q} is {p}'s {rel}" with rel the word for q, inv the word for p (p is q's inv).
# {p_pos} / {q_pos} are p's / q's possessive pronouns; every pronoun follows its person's name directly, so it
# always refers to the nearest preceding name.
TEMPLATES = {
    "parent": (
        "{q} is {p}'s {rel}.",
        "{p} went to the park with {p_pos} {rel} {q}.",
        "{q} took {q_pos} {inv} {p} to the movies.",
        "{p} asked {p_pos} {rel} {q} for help with the homework.",
        "{q} was proud of {q_pos} {inv} {p} for winning the race.",
    ),
    "child": (
        "{q} is {p}'s {rel}.",
        "{p} took {p_pos} {rel} {q} to the zoo.",
        "{q} called {q_pos} {inv} {p} after school.",
        "{p} and {p_pos} {rel} {q} went fishing at the lake.",
        "{q} made breakfast for {q_pos} {inv} {p}.",
    ),
    "spouse": (
        "{q} is {p}'s {rel}.",
        "{p} and {p_pos} {rel} {q} celebrated their anniversary.",
        "{q} bought flowers for {q_pos} {inv} {p}.",
        "{p} went dancing with {p_pos} {rel} {q}.",
        "{q} cooked dinner with {q_pos} {inv} {p} on Sunday.",
    ),
    "sibling": (
        "{q} is {p}'s {rel}.",
        "{p} played chess with {p_pos} {rel} {q}.",
        "{q} helped {q_pos} {inv} {p} move into a new house.",
        "{p} and {p_pos} {rel} {q} went to the beach.",
        "{q} gave {q_pos} {inv} {p} a birthday present.",
    ),
}
POSSESSIVE = {MALE: "his", FEMALE: "her"}

_CHAIN_ATTEMPTS_PER_TREE = 50
_MAX_TREES_PER_STORY = 1000


# ----------------------------------------------------------------------------------------------------------- checks
def check_ks(k) -> tuple[int, ...]:
    """k as an int or a non-empty list / tuple of ints >= 1 -> a tuple of ints."""
    ks = (k,) if is_int(k) else k
    if not isinstance(ks, (list, tuple)) or not ks:
        raise TypeError(f"k must be an int or a non-empty list of ints, got {k!r}")
    return tuple(check_int(value, "k", 1) for value in ks)


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


# ----------------------------------------------------------------------------------------------------------- stories
@dataclass
class Story:
    """One story: ``sentences`` (plain text), ``query`` = (A, B) names, ``target`` = "B is A's target".

    ``people`` lists the names mentioned (used to replace names by entity placeholders). Generated stories also
    carry ``path`` (the k + 1 names p0 = A .. pk = B), ``relations`` (the k edge words, "p(i+1) is p(i)'s word") and
    ``tree``; stories loaded from CSV carry the edge words when the file has an ``f_comb`` column and no tree.
    """

    sentences: tuple[str, ...]
    query: tuple[str, str]
    target: str
    k: int
    people: tuple[str, ...]
    relations: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    tree: FamilyTree | None = None
    genders: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"sentences": list(self.sentences), "query": list(self.query), "target": self.target, "k": self.k,
                "people": list(self.people), "relations": list(self.relations), "path": list(self.path),
                "tree": self.tree.to_dict() if self.tree is not None else None, "genders": dict(self.genders)}

    @classmethod
    def from_dict(cls, stored: dict) -> "Story":
        return cls(tuple(stored["sentences"]), tuple(stored["query"]), stored["target"], int(stored["k"]),
                   tuple(stored["people"]), tuple(stored["relations"]), tuple(stored["path"]),
                   FamilyTree.from_dict(stored["tree"]) if stored["tree"] is not None else None,
                   dict(stored["genders"]))


def sample_chain(tree: FamilyTree, k: int, rng: random.Random) -> list[tuple[str, int]] | None:
    """A walk of k base edges from a random person, never revisiting anyone, whose composition is defined at every
    step. Returns ``[(base type, person), ...]`` (k steps; the start is ``chain_start``) or None on a dead end.

    At each step the next edge is drawn uniformly among those to unvisited people that keep the composition
    defined, so chains whose relation has no name are avoided rather than drawn and thrown away.
    """
    start = rng.randrange(len(tree))
    visited, current, kind, steps = {start}, start, None, [("start", start)]
    for _ in range(k):
        options = []
        for base, other in tree.neighbours(current):
            if other in visited:
                continue
            following = base if kind is None else COMPOSITION.get((kind, base))
            if following is not None:
                options.append((base, other, following))
        if not options:
            return None
        base, current, kind = rng.choice(options)
        visited.add(current)
        steps.append((base, current))
    return steps


def _sentence(tree: FamilyTree, first: int, second: int, base: str, rng: random.Random) -> str:
    template = rng.choice(TEMPLATES[base])
    return template.format(p=tree.names[first], q=tree.names[second],
                           rel=gendered(base, tree.genders[second]),
                           inv=gendered(INVERSE_TYPE[base], tree.genders[first]),
                           p_pos=POSSESSIVE[tree.genders[first]], q_pos=POSSESSIVE[tree.genders[second]])


def story_from_chain(tree: FamilyTree, steps: list[tuple[str, int]], rng: random.Random,
                     shuffle: bool = True) -> Story:
    """Sentences, query and target for a chain from ``sample_chain``; raises RuntimeError if the composed relation
    differs from the relation read from the tree (the rules would be wrong)."""
    people = [person for _, person in steps]
    relations = [gendered(base, tree.genders[person]) for base, person in steps[1:]]
    composed = compose(relations)
    direct = relation_in_tree(tree, people[0], people[-1])
    if composed is None or composed != direct:
        raise RuntimeError(f"composition {relations} -> {composed!r} disagrees with the tree ({direct!r}) for "
                           f"{[tree.names[p] for p in people]}")
    sentences = [_sentence(tree, people[i], people[i + 1], steps[i + 1][0], rng) for i in range(len(relations))]
    if shuffle:
        rng.shuffle(sentences)
    names = tuple(tree.names[person] for person in people)
    return Story(tuple(sentences), (names[0], names[-1]), composed, len(relations), names, tuple(relations), names,
                 tree, {name: tree.genders[person] for name, person in zip(names, people)})


def generate(n: int, k=(2, 3, 4), seed: int = 0, shuffle: bool = True) -> list[Story]:
    """``n`` stories, story i with k = ks[i % len(ks)] relations, each from its own random tree; seeded.

    Story i depends only on (seed, i), so ``generate(10, k, s)[:5] == generate(5, k, s)`` when the ks agree.
    """
    check_int(n, "n", 0)
    ks = check_ks(k)
    check_int(seed, "seed", 0)
    check_bool(shuffle, "shuffle")
    return [story_at(index, ks[index % len(ks)], seed, shuffle) for index in range(n)]


def story_at(index: int, length: int, seed: int, shuffle: bool) -> Story:
    """Story ``index`` of ``generate(..., seed, shuffle)``, which has k = ``length``: its own seeded generator
    (arguments unchecked; ``generate`` and ``split.unseen_test_stories`` check them)."""
    rng = random.Random(f"clutrr-{GENERATOR_VERSION}-{seed}-{index}")
    for _ in range(_MAX_TREES_PER_STORY):
        tree = random_tree(rng)
        steps = None
        for _ in range(_CHAIN_ATTEMPTS_PER_TREE):
            steps = sample_chain(tree, length, rng)
            if steps is not None:
                break
        if steps is not None:
            return story_from_chain(tree, steps, rng, shuffle)
    raise RuntimeError(f"found no chain of k = {length} relations in {_MAX_TREES_PER_STORY} trees; "
                       "k is too long for these three-generation families")


# ------------------------------------------------------------------------------------------------------------ cache
def cache_key(n: int, ks: tuple[int, ...], seed: int, shuffle: bool) -> dict:
    """The parameters that decide ``generate``'s stories (the cache key of ``cached_stories``)."""
    return {"dataset": "clutrr", "version": GENERATOR_VERSION, "n": n, "k": list(ks), "seed": seed,
            "shuffle": shuffle}


def cache_path(n: int, k=(2, 3, 4), seed: int = 0, shuffle: bool = True,
               folder: str | os.PathLike | None = None) -> Path:
    """``data/clutrr/clutrr_<n>_k<ks>_seed<seed>_<hash of the parameters>.json``."""
    ks = check_ks(k)
    folder = Path(folder) if folder is not None else data_dir() / "clutrr"
    return folder / f"clutrr_{n}_k{'-'.join(map(str, ks))}_seed{seed}_{key_hash(cache_key(n, ks, seed, shuffle))}.json"


def load_stories(path: Path, key: dict, stats: dict | None = None) -> list[Story] | None:
    """The cached stories, or None (with a warning if the file is unusable); with ``stats`` (a dict), the file must
    also hold stats (checksummed with the stories), which are copied into it."""

    def read(stored: dict) -> list[Story]:
        if stats is not None and not isinstance(stored.get("stats"), dict):
            raise ValueError("the file holds no stats")
        checked = stored["stories"] if "stats" not in stored else {"stories": stored["stories"],
                                                                   "stats": stored["stats"]}
        if stored.get("checksum") != json_checksum(checked):
            raise ValueError("checksum mismatch")
        if len(stored["stories"]) != key["n"]:
            raise ValueError("number of stories does not match the key")
        stories = [Story.from_dict(item) for item in stored["stories"]]
        if stats is not None:
            stats.update(stored["stats"])
        return stories

    return load_json(path, key, "CLUTRR", read)


def save_stories(path: Path, key: dict, stories: list[Story], stats: dict | None = None) -> None:
    """``{"key", "checksum", "stories"[, "stats"]}`` as JSON; the checksum covers the stories (and the stats)."""
    payload = [story.to_dict() for story in stories]
    stored = {"key": key, "checksum": json_checksum(payload), "stories": payload}
    if stats is not None:
        stored.update(checksum=json_checksum({"stories": payload, "stats": stats}), stats=stats)
    save_json(path, stored, "CLUTRR")


def cached_stories(n: int, k=(2, 3, 4), seed: int = 0, shuffle: bool = True, cache: bool = True,
                   cache_dir: str | os.PathLike | None = None) -> list[Story]:
    """``generate(n, k, seed, shuffle)``, read from / written to the JSON cache (see ``cache_path``)."""
    check_int(n, "n", 0)
    ks = check_ks(k)
    check_int(seed, "seed", 0)
    check_bool(shuffle, "shuffle")
    check_bool(cache, "cache")
    if not cache:
        return generate(n, ks, seed, shuffle)
    key = cache_key(n, ks, seed, shuffle)
    path = cache_path(n, ks, seed, shuffle, cache_dir)
    stories = load_stories(path, key)
    if stories is None:
        stories = generate(n, ks, seed, shuffle)
        save_stories(path, key, stories)
    return stories

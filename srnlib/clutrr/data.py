"""CLUTRR-style kinship stories (Section 3.3 of the paper; Sinha et al. 2019): a seeded generator, a loader for the
official CSV format, a vocabulary and a cached torch Dataset.

Family trees (``FamilyTree``), three generations, one family:
    generation 0  one founding couple (a man and a woman);
    generation 1  their 2..4 children; each marries (probability 0.85) a partner of the other gender from outside
                  the family ("married-in", no parents or siblings in the tree); a married couple has 1..3 children;
    generation 2  the grandchildren, unmarried.
    Every person has a unique first name (drawn from the gendered lists MALE_NAMES / FEMALE_NAMES) and a gender;
    every child has both parents in the tree, everyone has at most one spouse, siblings are full siblings.
    Trees hold 4..22 people (about 12.5 on average).

Relations. "B is A's r" is written ``r = relation(A -> B)``. The base edges of the kinship graph are parent, child,
spouse and sibling (gendered by B: father/mother, son/daughter, husband/wife, brother/sister). RELATIONS is CLUTRR's
vocabulary: the 20 relations of the issue plus brother-in-law and sister-in-law (a spouse's sibling or a sibling's
spouse), which the official data also uses and which long chains pass through. Meanings in these trees:
    uncle/aunt       a parent's sibling, or a parent's sibling's spouse;
    nephew/niece     a sibling's child, or a spouse's sibling's child;
    X-in-law         parent-in-law = a spouse's parent, child-in-law = a child's spouse, sibling-in-law as above.
Anything else (cousins, a spouse's sibling's spouse, ...) has no name in RELATIONS.

Composition rules. A chain A = p0 -> p1 -> ... -> pk = B of k base edges (no person visited twice) is composed left
to right: the relation of p(i+1) to A is ``COMPOSITION[(type of p(i) to A, base type of the edge)]``, gendered by
p(i+1) (the gender named by the edge's word). COMPOSITION is written on gender-neutral types (parent, child, spouse,
sibling, grandparent, grandchild, pibling = uncle/aunt, nibling = nephew/niece, parent_in_law, child_in_law,
sibling_in_law); e.g. parent o sibling = pibling (father's sister = aunt), child o parent = spouse (son's mother =
wife: she is not A, as nobody is visited twice). A pair missing from the table is either impossible in these trees
or has no single answer (grandchild o parent is a child or a child-in-law), and a chain that reaches such a pair or
a relation outside RELATIONS at any step is rejected and resampled. The rules are exact for the trees above and
chains without revisits: every accepted chain's composed relation is also checked against ``relation_in_tree``
(which reads the tree directly), and a disagreement raises RuntimeError (the tests check both against a third,
independent walk).

Stories (``Story``): one sentence per edge, from 5 templates per base relation, in which pronouns always refer to
the nearest preceding name and every sentence names the gender of its second person (p(i+1)) through a kinship
word or a pronoun. By default the k sentences are shuffled (``shuffle=True``; the RN reads them as a set); with
``shuffle=False`` they follow the chain. The query is (A, B) and the target is "B is A's target". ``generate(n, k)``
takes k as an int or a list of ints; story i has k = ks[i % len(ks)], one tree per story.

Tokens. ``tokenize`` lowercases, replaces each person's name by an entity placeholder ``@ent<j>`` where j numbers
the story's people in order of first appearance in the story's sentences (names carry no information; with shuffled
sentences the numbering does not reveal the chain order), keeps words, hyphenated words ("in-law") and the
possessive "'s", and drops other punctuation. ``Vocabulary``: index 0 = <pad>, 1 = <unk>, then @ent0..@ent{E-1}
(E = max_entities, always present), then the training words by frequency.

Dataset shapes (S = max_sentences, W = max_words; B = batch size after ``collate``):
    sentences  int64 (S, W) token indices, 0-padded        -> (B, S', W') trimmed to the batch's longest
    mask       bool (S,) True for real sentences          -> (B, S')
    query      int64 (2,) token indices of @ent for A, B  -> (B, 2)
    target     int64 scalar index into RELATIONS          -> (B,)
    k          int64 scalar chain length                  -> (B,)
Generated stories are cached as JSON under ``data/clutrr/`` (parameters key + SHA-256 checksum in the file, written
atomically; a corrupt or mismatching file is regenerated with a warning).

Held-out stories (``canonical_key``, ``unseen_test_stories``, ``cached_split``). With names as placeholders and the
sentences read as a set, short chains repeat: about 2,100 distinct k = 2 stories exist, so an independently drawn
test set mostly repeats training stories (159 of 300 k = 2 test stories at ``quick``). ``canonical_key`` is a story
as the model sees it (placeholder sentences as a multiset, up to the renumbering a reordering causes, and the
query); ``unseen_test_stories`` draws test stories and replaces every one whose key occurs in training.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import os
import random
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .._checks import check_int, is_int
from ..cache import check_not_directory
from ..paths import data_dir

GENERATOR_VERSION = 1  # bump when trees, chains or templates change, so old caches are never reused
MALE, FEMALE = "male", "female"

RELATIONS = ("father", "mother", "son", "daughter", "husband", "wife", "brother", "sister",
             "grandfather", "grandmother", "grandson", "granddaughter", "uncle", "aunt", "nephew", "niece",
             "father-in-law", "mother-in-law", "son-in-law", "daughter-in-law", "brother-in-law", "sister-in-law")
RELATION_INDEX = {name: index for index, name in enumerate(RELATIONS)}

# gender-neutral type -> (word for a man, word for a woman)
GENDERED_WORDS = {
    "parent": ("father", "mother"), "child": ("son", "daughter"), "spouse": ("husband", "wife"),
    "sibling": ("brother", "sister"), "grandparent": ("grandfather", "grandmother"),
    "grandchild": ("grandson", "granddaughter"), "pibling": ("uncle", "aunt"), "nibling": ("nephew", "niece"),
    "parent_in_law": ("father-in-law", "mother-in-law"), "child_in_law": ("son-in-law", "daughter-in-law"),
    "sibling_in_law": ("brother-in-law", "sister-in-law"),
}
BASE_TYPES = ("parent", "child", "spouse", "sibling")
WORD_TYPE = {word: kind for kind, words in GENDERED_WORDS.items() for word in words}
WORD_GENDER = {word: (MALE if position == 0 else FEMALE)
               for words in GENDERED_WORDS.values() for position, word in enumerate(words)}
INVERSE_TYPE = {"parent": "child", "child": "parent", "spouse": "spouse", "sibling": "sibling"}

# (type of the current person to A, base type of the next edge) -> type of the next person to A
COMPOSITION = {
    ("parent", "parent"): "grandparent",         # father's mother = grandmother
    ("parent", "child"): "sibling",              # mother's son = brother (not A: no revisits)
    ("parent", "spouse"): "parent",              # father's wife = mother
    ("parent", "sibling"): "pibling",            # father's sister = aunt
    ("child", "parent"): "spouse",               # son's mother = wife
    ("child", "child"): "grandchild",
    ("child", "spouse"): "child_in_law",         # daughter's husband = son-in-law
    ("child", "sibling"): "child",               # son's sister = daughter
    ("spouse", "parent"): "parent_in_law",
    ("spouse", "child"): "child",
    ("spouse", "sibling"): "sibling_in_law",     # wife's brother = brother-in-law
    ("sibling", "parent"): "parent",
    ("sibling", "child"): "nibling",
    ("sibling", "spouse"): "sibling_in_law",     # sister's husband = brother-in-law
    ("sibling", "sibling"): "sibling",
    ("grandparent", "spouse"): "grandparent",
    ("grandparent", "child"): "pibling",         # A's own parent on that side was already visited
    ("grandchild", "sibling"): "grandchild",
    ("pibling", "parent"): "grandparent",        # only a blood uncle/aunt has parents in the tree
    ("pibling", "spouse"): "pibling",            # aunt's husband = uncle
    ("pibling", "sibling"): "pibling",           # A's own parent on that side was already visited
    ("nibling", "sibling"): "nibling",
    ("parent_in_law", "spouse"): "parent_in_law",
    ("parent_in_law", "child"): "sibling_in_law",  # A's spouse was already visited
    ("child_in_law", "child"): "grandchild",
    ("sibling_in_law", "parent"): "parent_in_law",  # only a spouse's sibling has parents in the tree
    ("sibling_in_law", "child"): "nibling",
}

MALE_NAMES = (
    "Aaron", "Adam", "Albert", "Alex", "Andrew", "Anthony", "Arthur", "Benjamin", "Brian", "Carl", "Charles",
    "Christopher", "Daniel", "David", "Dennis", "Donald", "Edward", "Eric", "Frank", "Gabriel", "George", "Gregory",
    "Harold", "Henry", "Isaac", "Jack", "Jacob", "James", "Jason", "Jeffrey", "John", "Jonathan", "Joseph", "Justin",
    "Keith", "Kenneth", "Kevin", "Larry", "Lawrence", "Louis", "Mark", "Martin", "Matthew", "Michael", "Nathan",
    "Nicholas", "Oliver", "Patrick", "Paul", "Peter", "Philip", "Ralph", "Raymond", "Richard", "Robert", "Roger",
    "Ronald", "Samuel", "Scott", "Stephen", "Thomas", "Timothy", "Victor", "Walter", "William", "Zachary",
)
FEMALE_NAMES = (
    "Abigail", "Alice", "Amanda", "Amy", "Angela", "Anna", "Barbara", "Betty", "Beverly", "Carol", "Catherine",
    "Charlotte", "Christine", "Cynthia", "Deborah", "Diana", "Donna", "Dorothy", "Elizabeth", "Emily", "Emma",
    "Evelyn", "Frances", "Grace", "Hannah", "Heather", "Helen", "Isabella", "Jacqueline", "Janet", "Jennifer",
    "Jessica", "Joan", "Judith", "Julia", "Karen", "Kathleen", "Kristin", "Laura", "Linda", "Lisa", "Lucy",
    "Margaret", "Maria", "Marie", "Martha", "Mary", "Megan", "Melissa", "Michelle", "Nancy", "Natalie", "Olivia",
    "Pamela", "Rachel", "Rebecca", "Rose", "Ruth", "Samantha", "Sarah", "Sharon", "Sophia", "Susan", "Teresa",
    "Victoria", "Virginia",
)

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

_ROOT_CHILDREN = (2, 4)
_MARRIAGE_PROBABILITY = 0.85
_COUPLE_CHILDREN = (1, 3)
_CHAIN_ATTEMPTS_PER_TREE = 50
_MAX_TREES_PER_STORY = 1000


# ----------------------------------------------------------------------------------------------------------- checks
def _check_int(value, name: str, minimum: int) -> int:
    return check_int(value, name, minimum)  # the shared check: NumPy ints accepted (as int), bools rejected


def _check_ks(k) -> tuple[int, ...]:
    ks = (k,) if is_int(k) else k
    if not isinstance(ks, (list, tuple)) or not ks:
        raise TypeError(f"k must be an int or a non-empty list of ints, got {k!r}")
    return tuple(_check_int(value, "k", 1) for value in ks)


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


# ------------------------------------------------------------------------------------------------------------- trees
@dataclass(frozen=True)
class FamilyTree:
    """People 0..n-1 as parallel tuples; ``father``, ``mother`` and ``spouse`` hold a person index or -1."""

    names: tuple[str, ...]
    genders: tuple[str, ...]      # "male" / "female"
    generations: tuple[int, ...]  # 0 founders, 1 their children and the married-in partners, 2 grandchildren
    father: tuple[int, ...]
    mother: tuple[int, ...]
    spouse: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def parents(self, person: int) -> list[int]:
        return [parent for parent in (self.father[person], self.mother[person]) if parent >= 0]

    def children(self, person: int) -> list[int]:
        return [child for child in range(len(self)) if person in (self.father[child], self.mother[child])]

    def siblings(self, person: int) -> list[int]:
        if self.father[person] < 0:
            return []
        return [other for other in self.children(self.father[person]) if other != person]

    def spouses(self, person: int) -> list[int]:
        return [self.spouse[person]] if self.spouse[person] >= 0 else []

    def neighbours(self, person: int) -> list[tuple[str, int]]:
        """``(base type, other)`` for each base edge: other is person's parent / child / spouse / sibling."""
        return ([("parent", other) for other in self.parents(person)]
                + [("child", other) for other in self.children(person)]
                + [("spouse", other) for other in self.spouses(person)]
                + [("sibling", other) for other in self.siblings(person)])

    def edges(self) -> list[tuple[int, int, str]]:
        """For drawing: ``(parent, child, "parent")`` and ``(husband, wife, "spouse")`` once each."""
        lines = [(parent, child, "parent") for child in range(len(self)) for parent in self.parents(child)]
        lines += [(person, self.spouse[person], "spouse") for person in range(len(self))
                  if self.spouse[person] > person]
        return lines

    def to_dict(self) -> dict:
        return {"names": list(self.names), "genders": list(self.genders), "generations": list(self.generations),
                "father": list(self.father), "mother": list(self.mother), "spouse": list(self.spouse)}

    @classmethod
    def from_dict(cls, stored: dict) -> "FamilyTree":
        return cls(**{name: tuple(stored[name]) for name in
                      ("names", "genders", "generations", "father", "mother", "spouse")})


def random_tree(rng: random.Random) -> FamilyTree:
    """One random three-generation family (see the module docstring), names unique within the tree."""
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    genders, generations, father, mother, spouse = [], [], [], [], []

    def add(gender: str, generation: int, dad: int = -1, mum: int = -1) -> int:
        genders.append(gender)
        generations.append(generation)
        father.append(dad)
        mother.append(mum)
        spouse.append(-1)
        return len(genders) - 1

    def marry(husband: int, wife: int) -> None:
        spouse[husband], spouse[wife] = wife, husband

    grandfather, grandmother = add(MALE, 0), add(FEMALE, 0)
    marry(grandfather, grandmother)
    for _ in range(rng.randint(*_ROOT_CHILDREN)):
        child = add(rng.choice((MALE, FEMALE)), 1, grandfather, grandmother)
        if rng.random() >= _MARRIAGE_PROBABILITY:
            continue
        partner = add(FEMALE if genders[child] == MALE else MALE, 1)
        husband, wife = (child, partner) if genders[child] == MALE else (partner, child)
        marry(husband, wife)
        for _ in range(rng.randint(*_COUPLE_CHILDREN)):
            add(rng.choice((MALE, FEMALE)), 2, husband, wife)
    male_names = iter(rng.sample(MALE_NAMES, genders.count(MALE)))
    female_names = iter(rng.sample(FEMALE_NAMES, genders.count(FEMALE)))
    names = tuple(next(male_names) if gender == MALE else next(female_names) for gender in genders)
    return FamilyTree(names, tuple(genders), tuple(generations), tuple(father), tuple(mother), tuple(spouse))


def gendered(kind: str, gender: str) -> str:
    """Neutral type and gender -> relation word, e.g. ("pibling", "female") -> "aunt"."""
    if kind not in GENDERED_WORDS:
        raise ValueError(f"kind must be one of {sorted(GENDERED_WORDS)}, got {kind!r}")
    if gender not in (MALE, FEMALE):
        raise ValueError(f"gender must be {MALE!r} or {FEMALE!r}, got {gender!r}")
    return GENDERED_WORDS[kind][0 if gender == MALE else 1]


def relation_in_tree(tree: FamilyTree, first: int, second: int) -> str | None:
    """The relation of ``second`` to ``first`` read directly from the tree ("second is first's ..."), or None
    when it has no name in RELATIONS (themselves, cousins, a spouse's sibling's spouse, ...)."""
    if first == second:
        return None
    parents, spouses, siblings = tree.parents(first), tree.spouses(first), tree.siblings(first)
    children = tree.children(first)
    candidates = (
        ("spouse", spouses),
        ("parent", parents),
        ("child", children),
        ("sibling", siblings),
        ("grandparent", [g for p in parents for g in tree.parents(p)]),
        ("grandchild", [g for c in children for g in tree.children(c)]),
        ("pibling", [u for p in parents for s in tree.siblings(p) for u in [s] + tree.spouses(s)]),
        ("nibling", [n for s in siblings + [x for sp in spouses for x in tree.siblings(sp)]
                     for n in tree.children(s)]),
        ("parent_in_law", [p for sp in spouses for p in tree.parents(sp)]),
        ("child_in_law", [s for c in children for s in tree.spouses(c)]),
        ("sibling_in_law", [x for sp in spouses for x in tree.siblings(sp)]
         + [x for s in siblings for x in tree.spouses(s)]),
    )
    for kind, people in candidates:
        if second in people:
            return gendered(kind, tree.genders[second])
    return None


def compose(relations) -> str | None:
    """Compose a chain of base relation words left to right with COMPOSITION; None when some step has no rule.

    ``compose(["father", "sister", "husband"])`` = "uncle" (my father's sister's husband is my uncle).
    """
    relations = list(relations)
    if not relations:
        raise ValueError("relations must hold at least one relation word")
    for word in relations:
        if WORD_TYPE.get(word) not in BASE_TYPES:
            raise ValueError(f"relations must be base relation words "
                             f"{[w for t in BASE_TYPES for w in GENDERED_WORDS[t]]}, got {word!r}")
    kind = WORD_TYPE[relations[0]]
    for word in relations[1:]:
        kind = COMPOSITION.get((kind, WORD_TYPE[word]))
        if kind is None:
            return None
    return gendered(kind, WORD_GENDER[relations[-1]])


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
    _check_int(n, "n", 0)
    ks = _check_ks(k)
    _check_int(seed, "seed", 0)
    _check_bool(shuffle, "shuffle")
    return [_story_at(index, ks[index % len(ks)], seed, shuffle) for index in range(n)]


def _story_at(index: int, length: int, seed: int, shuffle: bool) -> Story:
    """Story ``index`` of ``generate(..., seed, shuffle)``, which has k = ``length``: its own seeded generator."""
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


# ---------------------------------------------------------------------------------------------------- official CSV
_BRACKETED = re.compile(r"\[([^\]]+)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def load_csv(path: str | os.PathLike) -> list[Story]:
    """Stories from a file in the official CLUTRR CSV format (columns ``story``, ``query``, ``target`` required;
    ``f_comb`` "father-sister-..." gives the edge words and k, ``genders`` "Alice:female,Bob:male" the genders).

    Names are bracketed in the official story ("[Alice] went ..."); the brackets are removed and the names kept in
    ``people``. The query column is a Python tuple literal "('Alice', 'Bob')". Without ``f_comb``, k is the
    number of sentences. No tree is attached.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path {path} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a CLUTRR CSV file")
    data = path.read_bytes()
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as error:  # name the line of the first bad byte, not of the decoder's buffer
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(f"{path} line {line}: not UTF-8 text (byte "
                         f"{data[error.start]:#04x} at offset {error.start}); save the file as UTF-8") from None
    stories = []
    reader = csv.DictReader(io.StringIO(decoded, newline=""))
    line = 1  # where the record being read starts (csv does not count the lines of a record it fails on)
    try:
        fieldnames = reader.fieldnames
        missing = {"story", "query", "target"} - set(fieldnames or ())
        if missing:
            raise ValueError(f"{path} line 1: lacks the CLUTRR column(s) {sorted(missing)}; found {fieldnames}")
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            stories.append(_story_from_row(row, f"{path} line {reader.line_num}"))
    except csv.Error as error:  # e.g. a field over csv.field_size_limit()
        raise ValueError(f"{path} line {line}: malformed CSV ({error})") from None
    return stories


def _story_from_row(row: dict, where: str) -> Story:
    """One CSV row -> a Story; every error starts with ``where`` ("<file> line <n>")."""
    if any(row.get(column) is None for column in ("story", "query", "target")):
        raise ValueError(f"{where}: the row has fewer fields than the header (story, query and target are needed)")
    try:
        query = ast.literal_eval(row["query"])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"{where}: query must look like \"('Alice', 'Bob')\", got {row['query']!r}") from None
    if not (isinstance(query, tuple) and len(query) == 2 and all(isinstance(q, str) and q.strip() for q in query)):
        raise ValueError(f"{where}: query must be a pair of names, got {row['query']!r}")
    text = row["story"].strip()
    people = tuple(dict.fromkeys(_BRACKETED.findall(text)))
    plain = _BRACKETED.sub(r"\1", text)
    sentences = tuple(s.strip() for s in _SENTENCE_END.split(plain) if s.strip())
    if not sentences:
        raise ValueError(f"{where}: the story is empty")
    absent = [name for name in query if name not in people and re.search(
        rf"(?<!\w){re.escape(name)}(?!\w)", plain) is None]
    if absent:
        raise ValueError(f"{where}: the query names {absent} do not occur in the story {text[:80]!r}")
    if not row["target"].strip():
        raise ValueError(f"{where}: the target relation is empty")
    relations = tuple(w for w in (row.get("f_comb") or "").split("-") if w)
    # "father-in-law" splits into "father", "in", "law" above: rejoin the "-in-law" parts
    joined = []
    for word in relations:
        if word in ("in", "law") and joined:
            joined[-1] += "-" + word
        else:
            joined.append(word)
    genders = {}
    for item in (row.get("genders") or "").split(","):
        if ":" in item:
            name, gender = item.split(":", 1)
            genders[name.strip()] = gender.strip()
    people = tuple(dict.fromkeys(people + tuple(query)))
    return Story(sentences, tuple(query), row["target"].strip(), len(joined) if joined else len(sentences), people,
                 tuple(joined), (), None, genders)


# ------------------------------------------------------------------------------------------------- tokens and vocab
PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1
ENTITY_PREFIX = "@ent"


_WORD = re.compile(r"'s\b|[A-Za-z]+(?:-[A-Za-z]+)*|\d+")


def _words(sentence: str, names) -> list[str]:
    """Words of a sentence in their original case; a name that is not a single word (a space, an apostrophe) is
    kept as one word."""
    multi_word = sorted((name for name in names if _WORD.fullmatch(name) is None), key=len, reverse=True)
    if not multi_word:
        return _WORD.findall(sentence)
    pattern = re.compile("|".join(re.escape(name) for name in multi_word) + "|" + _WORD.pattern)
    return pattern.findall(sentence)


def entity_numbers(story: Story) -> dict[str, int]:
    """Name -> placeholder number, in order of first appearance in the sentences (then the query's names, then
    the other names in ``people``)."""
    names, order = set(story.people) | set(story.query), {}
    for sentence in story.sentences:
        for word in _words(sentence, names):
            if word in names:
                order.setdefault(word, len(order))
    for name in tuple(story.query) + tuple(story.people):
        order.setdefault(name, len(order))
    return order


def tokenize(story: Story) -> list[list[str]]:
    """Each sentence as lowercase tokens with names replaced by ``@ent<j>`` (see ``entity_numbers``): words,
    hyphenated words ("in-law"), numbers and the possessive "'s"; other punctuation is dropped."""
    numbers = entity_numbers(story)
    return [[f"{ENTITY_PREFIX}{numbers[word]}" if word in numbers else word.lower()
             for word in _words(sentence, numbers)] for sentence in story.sentences]


class Vocabulary:
    """Token <-> index. 0 = <pad>, 1 = <unk>, 2 .. 2 + max_entities - 1 = @ent0.., then words by frequency."""

    def __init__(self, tokens, max_entities: int = 32):
        _check_int(max_entities, "max_entities", 2)
        self.max_entities = max_entities
        entities = [f"{ENTITY_PREFIX}{j}" for j in range(max_entities)]
        self.tokens = [PAD, UNK] + entities + [t for t in tokens if t not in (PAD, UNK) and t not in entities]
        self.index = {token: position for position, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("tokens must not repeat")

    @classmethod
    def build(cls, stories, min_count: int = 1, max_entities: int = 32) -> "Vocabulary":
        """From training stories: every word seen at least ``min_count`` times, most frequent first."""
        _check_int(min_count, "min_count", 1)
        stories = list(stories)
        if not all(isinstance(story, Story) for story in stories):
            raise TypeError("stories must be Story records")
        counts = Counter(token for story in stories for sentence in tokenize(story) for token in sentence
                         if not token.startswith(ENTITY_PREFIX))
        words = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(words, max_entities)

    def __len__(self) -> int:
        return len(self.tokens)

    def entity(self, number: int) -> int:
        if not 0 <= number < self.max_entities:
            raise ValueError(f"entity number must be in 0..{self.max_entities - 1}, got {number} "
                             "(build the Vocabulary with a larger max_entities)")
        return self.index[f"{ENTITY_PREFIX}{number}"]

    def encode(self, tokens) -> list[int]:
        """Tokens -> indices; unknown words -> 1; an @ent beyond max_entities raises ValueError."""
        indices = []
        for token in tokens:
            if token.startswith(ENTITY_PREFIX):
                indices.append(self.entity(int(token[len(ENTITY_PREFIX):])))
            else:
                indices.append(self.index.get(token, UNK_INDEX))
        return indices

    def decode(self, indices) -> list[str]:
        """Indices -> tokens, padding dropped."""
        return [self.tokens[int(i)] for i in indices if int(i) != PAD_INDEX]

    def to_dict(self) -> dict:
        return {"tokens": self.tokens[2 + self.max_entities:], "max_entities": self.max_entities}

    @classmethod
    def from_dict(cls, stored: dict) -> "Vocabulary":
        return cls(stored["tokens"], stored["max_entities"])


# ------------------------------------------------------------------------------------ stories as the model sees them
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
    sentences = [_words(sentence, names) for sentence in story.sentences]
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
    _check_int(n, "n", 0)
    ks = _check_ks(k)
    _check_int(seed, "seed", 0)
    _check_bool(shuffle, "shuffle")
    limit = 100 * n + 1000 if max_candidates is None else _check_int(max_candidates, "max_candidates", 1)
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
            story = _story_at(index, length, seed, shuffle)
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
def _cache_key(n: int, ks: tuple[int, ...], seed: int, shuffle: bool) -> dict:
    return {"dataset": "clutrr", "version": GENERATOR_VERSION, "n": n, "k": list(ks), "seed": seed,
            "shuffle": shuffle}


def _checksum(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_path(n: int, k=(2, 3, 4), seed: int = 0, shuffle: bool = True,
               folder: str | os.PathLike | None = None) -> Path:
    """``data/clutrr/clutrr_<n>_k<ks>_seed<seed>_<hash of the parameters>.json``."""
    ks = _check_ks(k)
    key = _cache_key(n, ks, seed, shuffle)
    name = _checksum(key)[:16]
    folder = Path(folder) if folder is not None else data_dir() / "clutrr"
    return folder / f"clutrr_{n}_k{'-'.join(map(str, ks))}_seed{seed}_{name}.json"


def _load_cache(path: Path, key: dict, stats: dict | None = None) -> list[Story] | None:
    """The cached stories, or None (with a warning if the file is unusable); with ``stats`` (a dict), the file must
    also hold stats (checksummed with the stories), which are copied into it."""
    check_not_directory(path, "CLUTRR")
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
        if stored.get("key") != key:
            raise ValueError(f"cache key {stored.get('key')} does not match {key}")
        if stats is not None and not isinstance(stored.get("stats"), dict):
            raise ValueError("the file holds no stats")
        checked = stored["stories"] if "stats" not in stored else {"stories": stored["stories"],
                                                                   "stats": stored["stats"]}
        if stored.get("checksum") != _checksum(checked):
            raise ValueError("checksum mismatch")
        if len(stored["stories"]) != key["n"]:
            raise ValueError("number of stories does not match the key")
        stories = [Story.from_dict(item) for item in stored["stories"]]
        if stats is not None:
            stats.update(stored["stats"])
        return stories
    except Exception as error:  # corrupt, truncated, foreign or stale: regenerate, never use
        warnings.warn(f"CLUTRR cache {path.name} is unusable ({error}); regenerating it")
        return None


def _save_cache(path: Path, key: dict, stories: list[Story], stats: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = [story.to_dict() for story in stories]
    stored = {"key": key, "checksum": _checksum(payload), "stories": payload}
    if stats is not None:
        stored.update(checksum=_checksum({"stories": payload, "stats": stats}), stats=stats)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(stored, handle)
    os.replace(temporary, path)


def cached_stories(n: int, k=(2, 3, 4), seed: int = 0, shuffle: bool = True, cache: bool = True,
                   cache_dir: str | os.PathLike | None = None) -> list[Story]:
    """``generate(n, k, seed, shuffle)``, read from / written to the JSON cache (see ``cache_path``)."""
    _check_int(n, "n", 0)
    ks = _check_ks(k)
    _check_int(seed, "seed", 0)
    _check_bool(shuffle, "shuffle")
    _check_bool(cache, "cache")
    if not cache:
        return generate(n, ks, seed, shuffle)
    key = _cache_key(n, ks, seed, shuffle)
    path = cache_path(n, ks, seed, shuffle, cache_dir)
    stories = _load_cache(path, key)
    if stories is None:
        stories = generate(n, ks, seed, shuffle)
        _save_cache(path, key, stories)
    return stories


SPLIT_VERSION = 1  # bump when unseen_test_stories changes, so old test caches (and checkpoints) are never reused


def split_key(train_n: int, test_n: int, k=(2, 3, 4), train_seed: int = 0, test_seed: int = 1,
              shuffle: bool = True) -> dict:
    """The parameters that decide ``cached_split``'s test stories (its cache key; also for keying checkpoints)."""
    ks = _check_ks(k)
    return {"dataset": "clutrr-test-unseen-in-training", "version": GENERATOR_VERSION,
            "split_version": SPLIT_VERSION, "n": _check_int(test_n, "test_n", 0), "k": list(ks),
            "seed": _check_int(test_seed, "test_seed", 0), "shuffle": _check_bool(shuffle, "shuffle"),
            "train": _cache_key(_check_int(train_n, "train_n", 0), ks, _check_int(train_seed, "train_seed", 0),
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
    _check_bool(cache, "cache")
    train = cached_stories(train_n, k, train_seed, shuffle, cache, cache_dir)
    if not cache:
        return (train, *unseen_test_stories(train, test_n, k, test_seed, shuffle))
    folder = Path(cache_dir) if cache_dir is not None else data_dir() / "clutrr"
    path = folder / f"clutrr_test_{test_n}_k{'-'.join(map(str, key['k']))}_seed{test_seed}_{_checksum(key)[:16]}.json"
    stats: dict = {}
    test = _load_cache(path, key, stats)
    if test is None:
        test, stats = unseen_test_stories(train, test_n, k, test_seed, shuffle)
        _save_cache(path, key, test, stats)
    return train, test, stats


# ----------------------------------------------------------------------------------------------------------- dataset
class ClutrrDataset(Dataset):
    """Encoded stories: item i = ``(sentences int64 (S, W), mask bool (S,), query int64 (2,), target int64,
    k int64)`` (see the module docstring). S and W default to the longest story / sentence in ``stories``; a
    longer one raises ValueError. Targets must be in RELATIONS."""

    def __init__(self, stories, vocabulary: Vocabulary, max_sentences: int | None = None,
                 max_words: int | None = None):
        stories = list(stories)
        if not stories:
            raise ValueError("stories must not be empty")
        if not all(isinstance(story, Story) for story in stories):
            raise TypeError("stories must be Story records")
        if not isinstance(vocabulary, Vocabulary):
            raise TypeError(f"vocabulary must be a Vocabulary, got {type(vocabulary).__name__}")
        tokenized = [tokenize(story) for story in stories]
        longest_story = max(len(sentences) for sentences in tokenized)
        longest_sentence = max((len(s) for sentences in tokenized for s in sentences), default=1)
        self.max_sentences = longest_story if max_sentences is None else _check_int(max_sentences, "max_sentences", 1)
        self.max_words = longest_sentence if max_words is None else _check_int(max_words, "max_words", 1)
        if longest_story > self.max_sentences:
            raise ValueError(f"max_sentences = {self.max_sentences} but a story has {longest_story} sentences")
        if longest_sentence > self.max_words:
            raise ValueError(f"max_words = {self.max_words} but a sentence has {longest_sentence} tokens")
        count = len(stories)
        self.sentences = torch.full((count, self.max_sentences, self.max_words), PAD_INDEX, dtype=torch.long)
        self.mask = torch.zeros(count, self.max_sentences, dtype=torch.bool)
        self.query = torch.empty(count, 2, dtype=torch.long)
        self.target = torch.empty(count, dtype=torch.long)
        self.k = torch.tensor([story.k for story in stories], dtype=torch.long)
        for row, (story, sentences) in enumerate(zip(stories, tokenized)):
            if story.target not in RELATION_INDEX:
                raise ValueError(f"story {row}: target {story.target!r} is not one of RELATIONS")
            for position, tokens in enumerate(sentences):
                if tokens:
                    self.sentences[row, position, :len(tokens)] = torch.tensor(vocabulary.encode(tokens))
            self.mask[row, :len(sentences)] = True
            numbers = entity_numbers(story)
            self.query[row] = torch.tensor([vocabulary.entity(numbers[name]) for name in story.query])
            self.target[row] = RELATION_INDEX[story.target]
        self.stories = stories
        self.vocabulary = vocabulary

    def __len__(self) -> int:
        return len(self.stories)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} stories")
        return self.sentences[index], self.mask[index], self.query[index], self.target[index], self.k[index]


def collate(items):
    """Stack dataset items and trim the padding to the batch's longest story and sentence:
    ``(sentences (B, S', W'), mask (B, S'), query (B, 2), target (B,), k (B,))``."""
    sentences, mask, query, target, k = (torch.stack(parts) for parts in zip(*items))
    used_sentences = max(int(mask.sum(1).max()), 1)
    used_words = max(int((sentences != PAD_INDEX).sum(-1).max()), 1)
    return sentences[:, :used_sentences, :used_words].contiguous(), mask[:, :used_sentences], query, target, k

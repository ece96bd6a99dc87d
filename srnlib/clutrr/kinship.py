"""Kinship in CLUTRR-style families (Section 3.3 of the paper; Sinha et al. 2019): the relations, the rules that
compose them, and the seeded family trees the stories are drawn from.

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
(which reads the tree directly) by ``stories.story_from_chain``, and a disagreement raises RuntimeError (the tests
check both against a third, independent walk).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

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

_ROOT_CHILDREN = (2, 4)
_MARRIAGE_PROBABILITY = 0.85
_COUPLE_CHILDREN = (1, 3)


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

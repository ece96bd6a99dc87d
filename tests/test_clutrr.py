"""CLUTRR data: targets against an independent walk of the tree (common ancestors and generations, in-laws through
a spouse), sentences against the tree (genders, pronouns, kinship words), coverage of every relation, determinism,
the official CSV loader, the vocabulary, the Dataset, the cache and argument checks."""
import csv
import random
import re
import warnings

import pytest
import torch

from srnlib import clutrr

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------- independent oracle
# Written from the tree's raw father / mother / spouse / gender tuples only: no COMPOSITION, no relation_in_tree.
WORDS = {  # (generations up from A to the closest common ancestor, generations down to B) -> (male, female)
    (1, 0): ("father", "mother"), (2, 0): ("grandfather", "grandmother"), (0, 1): ("son", "daughter"),
    (0, 2): ("grandson", "granddaughter"), (1, 1): ("brother", "sister"), (2, 1): ("uncle", "aunt"),
    (1, 2): ("nephew", "niece"),
}
SPOUSE = ("husband", "wife")
IN_LAW_THROUGH_B_SPOUSE = {(2, 1): ("uncle", "aunt"), (1, 1): ("brother-in-law", "sister-in-law"),
                           (0, 1): ("son-in-law", "daughter-in-law")}
IN_LAW_THROUGH_A_SPOUSE = {(1, 0): ("father-in-law", "mother-in-law"), (1, 1): ("brother-in-law", "sister-in-law"),
                           (1, 2): ("nephew", "niece")}


def ancestors(tree, person):
    """{ancestor: generations up}, the person included at 0, by breadth-first search over father/mother."""
    depth, frontier = {person: 0}, [person]
    while frontier:
        following = []
        for current in frontier:
            for parent in (tree.father[current], tree.mother[current]):
                if parent >= 0 and parent not in depth:
                    depth[parent] = depth[current] + 1
                    following.append(parent)
        frontier = following
    return depth


def blood_distance(tree, a, b):
    """(up, down) through the closest common ancestor of a and b, or None if they are not blood relatives."""
    up, down = ancestors(tree, a), ancestors(tree, b)
    common = [(up[c] + down[c], up[c], down[c]) for c in up if c in down]
    return min(common)[1:] if common else None


def oracle_relation(tree, a, b):
    """"b is a's ___" from the tree alone, or None."""
    if a == b:
        return None
    female = tree.genders[b] == "female"
    if tree.spouse[a] == b:
        return SPOUSE[female]
    blood = blood_distance(tree, a, b)
    if blood is not None:
        return WORDS[blood][female] if blood in WORDS else None
    if tree.spouse[b] >= 0:
        through = blood_distance(tree, a, tree.spouse[b])
        if through in IN_LAW_THROUGH_B_SPOUSE:
            return IN_LAW_THROUGH_B_SPOUSE[through][female]
    if tree.spouse[a] >= 0:
        through = blood_distance(tree, tree.spouse[a], b)
        if through in IN_LAW_THROUGH_A_SPOUSE:
            return IN_LAW_THROUGH_A_SPOUSE[through][female]
    return None


def oracle_edge(tree, a, b):
    """The base relation word "b is a's ___" for neighbours in the tree, from the raw tuples."""
    female = tree.genders[b] == "female"
    if b in (tree.father[a], tree.mother[a]):
        return ("father", "mother")[female]
    if a in (tree.father[b], tree.mother[b]):
        return ("son", "daughter")[female]
    if tree.spouse[a] == b:
        return SPOUSE[female]
    if tree.father[a] >= 0 and (tree.father[a], tree.mother[a]) == (tree.father[b], tree.mother[b]):
        return ("brother", "sister")[female]
    return None


# ------------------------------------------------------------------------------------------------ targets vs tree
@pytest.fixture(scope="module")
def stories():
    return clutrr.generate(1500, k=[2, 3, 4, 5, 6], seed=7)


def test_story_targets_equal_the_independent_walk(stories):
    for story in stories:
        tree = story.tree
        people = [tree.index(name) for name in story.path]
        assert len(people) == story.k + 1 == len(set(people)), "a chain never revisits a person"
        assert story.query == (story.path[0], story.path[-1])
        for i, word in enumerate(story.relations):
            assert oracle_edge(tree, people[i], people[i + 1]) == word
        assert story.target == oracle_relation(tree, people[0], people[-1])


def test_composition_and_direct_reading_agree_with_the_oracle_on_every_short_chain():
    """Every chain of up to 5 edges without revisits in 12 random trees: where the composition rules give a
    relation, it is the oracle's; and relation_in_tree equals the oracle on every pair of people."""
    checked = 0
    for seed in range(12):
        tree = clutrr.random_tree(random.Random(seed))
        for a in range(len(tree)):
            for b in range(len(tree)):
                assert clutrr.relation_in_tree(tree, a, b) == oracle_relation(tree, a, b)

        def extend(path, words):
            nonlocal checked
            for b in range(len(tree)):
                if b in path or oracle_edge(tree, path[-1], b) is None:
                    continue
                chain = words + [oracle_edge(tree, path[-1], b)]
                composed = clutrr.compose(chain)
                if composed is not None:
                    assert composed == oracle_relation(tree, path[0], b), (chain, [tree.names[p] for p in path])
                    checked += 1
                    if len(chain) < 5:
                        extend(path + [b], chain)

        for start in range(len(tree)):
            extend([start], [])
    assert checked > 1000


def test_composition_examples():
    assert clutrr.compose(["father", "sister", "husband"]) == "uncle"
    assert clutrr.compose(["wife", "father"]) == "father-in-law"
    assert clutrr.compose(["son", "mother"]) == "wife"
    assert clutrr.compose(["brother", "daughter"]) == "niece"
    assert clutrr.compose(["father", "brother", "son"]) is None  # a cousin has no name in RELATIONS


def test_every_relation_occurs():
    targets = {story.target for story in clutrr.generate(1500, k=[2, 3, 4], seed=1)}
    assert targets == set(clutrr.RELATIONS)


def test_long_chains_for_generalisation():
    for story in clutrr.generate(20, k=[7, 8], seed=2):
        assert len(story.sentences) == story.k in (7, 8)
        people = [story.tree.index(name) for name in story.path]
        assert story.target == oracle_relation(story.tree, people[0], people[-1])


# ------------------------------------------------------------------------------------------------- sentences
PRONOUNS = {"his": "male", "her": "female"}
KINSHIP_GENDER = {word: ("female" if position else "male")
                  for words in list(WORDS.values()) + [SPOUSE] + list(IN_LAW_THROUGH_B_SPOUSE.values())
                  + list(IN_LAW_THROUGH_A_SPOUSE.values()) for position, word in enumerate(words)}


def test_sentences_name_the_edge_with_matching_genders_and_pronouns(stories):
    names_pattern = re.compile(r"[A-Z][a-z]+|[a-z]+(?:-[a-z]+)*")
    for story in stories[:600]:
        tree = story.tree
        edges = {frozenset((story.path[i], story.path[i + 1])) for i in range(story.k)}
        mentioned = set()
        for sentence in story.sentences:
            words = names_pattern.findall(sentence.replace("'s", ""))
            names = [w for w in words if w in tree.names]
            assert len(names) == 2 and frozenset(names) in edges, sentence
            mentioned.add(frozenset(names))
            last_name, kinship_words = None, 0
            for position, word in enumerate(words):
                if word in tree.names:
                    last_name = word
                elif word in PRONOUNS:
                    assert PRONOUNS[word] == tree.genders[tree.index(last_name)], sentence
                elif word in KINSHIP_GENDER:
                    kinship_words += 1
                    following = words[position + 1] if position + 1 < len(words) else None
                    described = following if following in tree.names else names[0]
                    other = names[1] if described == names[0] else names[0]
                    assert KINSHIP_GENDER[word] == tree.genders[tree.index(described)], sentence
                    assert oracle_relation(tree, tree.index(other), tree.index(described)) == word, sentence
            assert kinship_words == 1, sentence
        assert mentioned == edges


def test_unshuffled_sentences_follow_the_chain():
    for story in clutrr.generate(30, k=4, seed=3, shuffle=False):
        for i, sentence in enumerate(story.sentences):
            assert story.path[i] in sentence and story.path[i + 1] in sentence


# ------------------------------------------------------------------------------------------------- determinism
def test_generation_is_deterministic_and_seeded():
    first = [story.to_dict() for story in clutrr.generate(40, seed=5)]
    assert first == [story.to_dict() for story in clutrr.generate(40, seed=5)]
    assert first[:10] == [story.to_dict() for story in clutrr.generate(10, seed=5)]
    assert first != [story.to_dict() for story in clutrr.generate(40, seed=6)]
    assert [story.k for story in clutrr.generate(6, k=[2, 3, 4])] == [2, 3, 4, 2, 3, 4]


# ------------------------------------------------------------------------------------------------- CSV loader
def test_load_csv_reads_the_official_format(tmp_path):
    path = tmp_path / "1.2,1.3_train.csv"
    header = ["", "id", "story", "query", "text_query", "target", "text_target", "clean_story", "proof_state",
              "f_comb", "task_name", "story_edges", "edge_types", "query_edge", "genders", "syn_story", "node_mapping",
              "task_split"]
    rows = [
        ["0", "a1", "[Kristin] and her son [Justin] went to visit her mother [Carol]. [Carol] loves [Justin].",
         "('Carol', 'Justin')", "", "grandson", "", "", "", "son-mother", "task_1.2", "[(0, 1), (1, 2)]",
         "['son', 'mother']", "(2, 0)", "Kristin:female,Justin:male,Carol:female", "", "", "train"],
        ["1", "a2", "[Ann] went shopping with her husband [Bob]. [Bob]'s father [Cid] drove them home.",
         "('Ann', 'Cid')", "", "father-in-law", "", "", "", "husband-father", "task_1.2", "", "", "",
         "Ann:female,Bob:male,Cid:male", "", "", "train"],
        ["2", "a3", "[Dora] baked a pie for her father-in-law [Ed].", "('Dora', 'Ed')", "", "father-in-law", "",
         "", "", "father-in-law", "task_1.1", "", "", "", "", "", "", "train"],
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    loaded = clutrr.load_csv(path)
    assert len(loaded) == 3
    first = loaded[0]
    assert first.sentences == ("Kristin and her son Justin went to visit her mother Carol.", "Carol loves Justin.")
    assert first.query == ("Carol", "Justin") and first.target == "grandson"
    assert first.people == ("Kristin", "Justin", "Carol") and first.relations == ("son", "mother")
    assert first.k == 2 and first.genders["Carol"] == "female" and first.tree is None
    assert loaded[1].sentences[1] == "Bob's father Cid drove them home."
    assert loaded[2].relations == ("father-in-law",) and loaded[2].k == 1
    vocabulary = clutrr.Vocabulary.build(loaded)
    dataset = clutrr.ClutrrDataset(loaded, vocabulary)
    sentences, mask, query, target, k = dataset[1]
    assert target.item() == clutrr.RELATIONS.index("father-in-law") and mask.tolist() == [True, True]
    assert vocabulary.decode(sentences[1]) == ["@ent1", "'s", "father", "@ent2", "drove", "them", "home"]
    assert vocabulary.decode(query) == ["@ent0", "@ent2"]


def test_load_csv_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        clutrr.load_csv(tmp_path / "missing.csv")
    no_target = tmp_path / "no_target.csv"
    no_target.write_text("story,query\n[A] is [B]'s father.,\"('B', 'A')\"\n")
    with pytest.raises(ValueError, match="target"):
        clutrr.load_csv(no_target)
    bad_query = tmp_path / "bad_query.csv"
    bad_query.write_text("story,query,target\n[A] is [B]'s father.,B and A,father\n")
    with pytest.raises(ValueError, match="query"):
        clutrr.load_csv(bad_query)


# ------------------------------------------------------------------------------------------ vocabulary, dataset
def test_vocabulary_round_trip_and_unknown_tokens():
    train = clutrr.generate(200, k=[2, 3, 4], seed=0)
    vocabulary = clutrr.Vocabulary.build(train, max_entities=8)
    assert vocabulary.tokens[:3] == ["<pad>", "<unk>", "@ent0"]
    for story in train[:20]:
        for tokens in clutrr.tokenize(story):
            assert vocabulary.decode(vocabulary.encode(tokens)) == tokens
            assert not any(token[0].isupper() for token in tokens)
    all_names = {name.lower() for name in clutrr.kinship.MALE_NAMES + clutrr.kinship.FEMALE_NAMES}
    assert not all_names & set(vocabulary.tokens), "names become @ent placeholders, never words"
    assert vocabulary.encode(["zebra", "father"]) == [clutrr.dataset.UNK_INDEX, vocabulary.index["father"]]
    with pytest.raises(ValueError, match="max_entities"):
        vocabulary.encode(["@ent8"])
    again = clutrr.Vocabulary.from_dict(vocabulary.to_dict())
    assert again.tokens == vocabulary.tokens
    rare = clutrr.Vocabulary.build(train, min_count=10_000)
    assert len(rare) == 2 + 32


def test_dataset_items_and_collate():
    train = clutrr.generate(60, k=[2, 3, 4], seed=0)
    vocabulary = clutrr.Vocabulary.build(train)
    dataset = clutrr.ClutrrDataset(train, vocabulary)
    assert dataset.max_sentences == 4
    sentences, mask, query, target, k = dataset[0]
    assert sentences.shape == (4, dataset.max_words) and sentences.dtype == torch.long
    assert mask.tolist() == [True, True, False, False] and k.item() == 2
    assert clutrr.RELATIONS[target.item()] == train[0].target
    entities = set(sentences[mask].flatten().tolist())
    assert set(query.tolist()) <= entities
    batch = clutrr.collate([dataset[0], dataset[3]])  # two stories of k = 2: padding trimmed to 2 sentences
    assert batch[0].shape[:2] == (2, 2) and batch[1].shape == (2, 2) and batch[2].shape == (2, 2)
    assert batch[3].shape == (2,) and batch[4].tolist() == [2, 2]
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, collate_fn=clutrr.collate)
    assert sum(len(b[3]) for b in loader) == 60
    longer = clutrr.generate(3, k=6, seed=0)
    with pytest.raises(ValueError, match="max_sentences"):
        clutrr.ClutrrDataset(longer, vocabulary, max_sentences=4)
    test = clutrr.ClutrrDataset(longer, vocabulary, max_sentences=10)
    assert test.sentences.shape[1] == 10


# ----------------------------------------------------------------------------------------------------------- cache
def test_cache_is_reused_and_corruption_regenerated(tmp_path):
    stories = clutrr.cached_stories(12, k=[2, 3], seed=4, cache_dir=tmp_path)
    path = clutrr.stories.cache_path(12, [2, 3], 4, folder=tmp_path)
    assert path.exists() and not list(tmp_path.glob("*.tmp"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid cache loads without a warning
        reloaded = clutrr.cached_stories(12, k=[2, 3], seed=4, cache_dir=tmp_path)
    assert [s.to_dict() for s in reloaded] == [s.to_dict() for s in stories]
    assert [s.to_dict() for s in stories] == [s.to_dict() for s in clutrr.generate(12, [2, 3], 4)]

    path.write_text(path.read_text()[:-50])  # truncated
    with pytest.warns(UserWarning, match="unusable"):
        fixed = clutrr.cached_stories(12, k=[2, 3], seed=4, cache_dir=tmp_path)
    assert [s.to_dict() for s in fixed] == [s.to_dict() for s in stories]

    tampered = path.read_text().replace(stories[0].target, "cousin", 1)  # checksum no longer matches
    path.write_text(tampered)
    with pytest.warns(UserWarning, match="checksum"):
        clutrr.cached_stories(12, k=[2, 3], seed=4, cache_dir=tmp_path)

    clutrr.cached_stories(12, k=[2, 3], seed=5, cache_dir=tmp_path)
    path.write_text(clutrr.stories.cache_path(12, [2, 3], 5, folder=tmp_path).read_text())  # another seed's file
    with pytest.warns(UserWarning, match="key"):
        again = clutrr.cached_stories(12, k=[2, 3], seed=4, cache_dir=tmp_path)
    assert [s.to_dict() for s in again] == [s.to_dict() for s in stories]


# ---------------------------------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("call, error, name", [
    (lambda: clutrr.generate(-1), ValueError, "n"),
    (lambda: clutrr.generate(2.0), TypeError, "n"),
    (lambda: clutrr.generate(2, k=0), ValueError, "k"),
    (lambda: clutrr.generate(2, k="3"), TypeError, "k"),
    (lambda: clutrr.generate(2, k=[]), TypeError, "k"),
    (lambda: clutrr.generate(2, seed=-1), ValueError, "seed"),
    (lambda: clutrr.generate(2, shuffle="yes"), TypeError, "shuffle"),
    (lambda: clutrr.cached_stories(2, cache=1), TypeError, "cache"),
    (lambda: clutrr.compose([]), ValueError, "relations"),
    (lambda: clutrr.compose(["cousin"]), ValueError, "relations"),
    (lambda: clutrr.random_tree(0), TypeError, "rng"),
    (lambda: clutrr.Vocabulary.build([], min_count=0), ValueError, "min_count"),
    (lambda: clutrr.Vocabulary.build(["story"]), TypeError, "stories"),
    (lambda: clutrr.ClutrrDataset([], clutrr.Vocabulary([])), ValueError, "stories"),
    (lambda: clutrr.ClutrrDataset(clutrr.generate(1), None), TypeError, "vocabulary"),
    (lambda: clutrr.ClutrrDataset(clutrr.generate(1), clutrr.Vocabulary([]), max_words=0), ValueError,
     "max_words"),
])
def test_bad_arguments_raise_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()

"""CLUTRR's held-out split: ``canonical_key`` on hand-made stories (a story as the model sees it: placeholder
sentences as a set, the query) and ``unseen_test_stories`` / ``cached_split`` (no test story equals a training
story; sizes, order and determinism kept; the cache keyed by the split and the training stories)."""
import warnings

import pytest

from srnlib import clutrr


def make(sentences, query, people, target="mother"):
    sentences = tuple(sentences)
    return clutrr.Story(sentences, tuple(query), target, len(sentences), tuple(people))


BASE = make(["Alice is Bob's mother.", "Bob took his son Carl to the zoo."], ("Alice", "Carl"),
            ("Alice", "Bob", "Carl"))


def test_reordered_sentences_renumber_the_placeholders_but_keep_the_key():
    reordered = make(reversed(BASE.sentences), BASE.query, BASE.people)
    assert clutrr.tokenize(reordered) != clutrr.tokenize(BASE)[::-1]  # the order changes the numbering ...
    assert sorted(map(tuple, clutrr.tokenize(reordered))) != sorted(map(tuple, clutrr.tokenize(BASE)))
    assert clutrr.canonical_key(reordered) == clutrr.canonical_key(BASE)  # ... and nothing the key sees


def test_names_and_target_are_not_part_of_the_key():
    renamed = make(["Dana is Eric's mother.", "Eric took his son Frank to the zoo."], ("Dana", "Frank"),
                   ("Dana", "Eric", "Frank"), target="grandmother")
    assert clutrr.canonical_key(renamed) == clutrr.canonical_key(BASE)


@pytest.mark.parametrize("other", [
    make(BASE.sentences, ("Carl", "Alice"), BASE.people),  # the query the other way round
    make(BASE.sentences, ("Alice", "Bob"), BASE.people),  # another person asked about
    make(["Alice is Bob's aunt.", BASE.sentences[1]], BASE.query, BASE.people),  # another kinship word
    make(["Alice is Bob's mother.", "Bob and his son Carl went fishing at the lake."], BASE.query, BASE.people),
    make(["Alice is Bob's mother.", "Dave took his son Carl to the zoo."], ("Alice", "Carl"),
         ("Alice", "Bob", "Dave", "Carl")),  # the same sentence patterns, but the chain is broken
    make(["Alice is Bob's mother."], ("Alice", "Bob"), ("Alice", "Bob")),  # a sentence fewer
])
def test_anything_the_model_reads_changes_the_key(other):
    assert clutrr.canonical_key(other) != clutrr.canonical_key(BASE)


def test_linkage_not_only_the_sentence_patterns_decides_the_key():
    chain = make(["Ann is Beth's mother.", "Beth is Cleo's mother."], ("Ann", "Cleo"), ("Ann", "Beth", "Cleo"))
    relabelled = make(["Beth is Cleo's mother.", "Ann is Beth's mother."], ("Ann", "Cleo"), ("Ann", "Beth", "Cleo"))
    two_mothers = make(["Ann is Beth's mother.", "Cleo is Beth's mother."], ("Ann", "Cleo"), ("Ann", "Beth", "Cleo"))
    assert clutrr.canonical_key(chain) == clutrr.canonical_key(relabelled)
    assert clutrr.canonical_key(chain) != clutrr.canonical_key(two_mothers)


def test_the_key_agrees_with_every_sentence_order_on_generated_stories():
    import itertools
    from dataclasses import replace

    def plain(story):  # the model's input with the sentence order it was given
        numbers = clutrr.dataset.entity_numbers(story)
        return (tuple(sorted(map(tuple, clutrr.tokenize(story)))), tuple(numbers[name] for name in story.query))

    for story in clutrr.generate(60, k=[2, 3, 4, 5], seed=11):
        orders = [plain(replace(story, sentences=order)) for order in itertools.permutations(story.sentences)]
        assert clutrr.canonical_key(story) == min(orders)


def test_canonical_key_needs_a_story():
    with pytest.raises(TypeError, match="story"):
        clutrr.canonical_key(("Alice is Bob's mother.",))


# ------------------------------------------------------------------------------------------------------------ split
def test_unseen_test_stories_replace_every_repeat_and_keep_sizes_and_order():
    train = clutrr.generate(600, k=[2, 3, 4], seed=0)
    test, stats = clutrr.unseen_test_stories(train, 90, k=[2, 3, 4], seed=7)
    assert [story.k for story in test] == [2, 3, 4] * 30
    seen = {clutrr.canonical_key(story) for story in train}
    assert not seen & {clutrr.canonical_key(story) for story in test}
    assert clutrr.shared_stories(train, test) == 0
    assert stats["2"]["repeats_dropped"] > 0  # at these sizes an independent draw repeats training stories
    candidates = clutrr.generate(3 * sum(s["candidates"] for s in stats.values()), k=[2, 3, 4], seed=7)
    for k in (2, 3, 4):  # the kept stories are the first unseen candidates of each k, in generate's order
        drawn = [story for story in candidates if story.k == k][:stats[str(k)]["candidates"]]
        expected = [story for story in drawn if clutrr.canonical_key(story) not in seen]
        assert [s.to_dict() for s in test if s.k == k] == [s.to_dict() for s in expected]
        assert stats[str(k)]["candidates"] - stats[str(k)]["repeats_dropped"] == 30
        assert stats[str(k)]["distinct"] == len({clutrr.canonical_key(s) for s in expected})
    again, _ = clutrr.unseen_test_stories(train, 90, k=[2, 3, 4], seed=7)
    assert [s.to_dict() for s in again] == [s.to_dict() for s in test]


def test_unseen_test_stories_say_when_training_covers_the_stories():
    train = clutrr.generate(3000, k=1, seed=0)  # one-sentence stories: a few dozen exist, all in training
    with pytest.raises(RuntimeError, match="unseen in training"):
        clutrr.unseen_test_stories(train, 5, k=1, seed=1, max_candidates=500)


@pytest.mark.parametrize("call, error, name", [
    (lambda: clutrr.unseen_test_stories([], -1), ValueError, "n"),
    (lambda: clutrr.unseen_test_stories(["story"], 3), TypeError, "train"),
    (lambda: clutrr.unseen_test_stories([], 3, max_candidates=0), ValueError, "max_candidates"),
    (lambda: clutrr.unseen_test_stories([], 3, seed=-2), ValueError, "seed"),
    (lambda: clutrr.cached_split(10, 5, train_seed=-1), ValueError, "train_seed"),
    (lambda: clutrr.cached_split(10, -5), ValueError, "test_n"),
])
def test_bad_split_arguments_raise_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_cached_split_is_keyed_by_the_split_version_and_the_training_stories(tmp_path, monkeypatch):
    train, test, stats = clutrr.cached_split(90, 30, k=[2, 3], train_seed=0, test_seed=5, cache_dir=tmp_path)
    assert [s.to_dict() for s in train] == [s.to_dict() for s in clutrr.cached_stories(90, [2, 3], 0,
                                                                                     cache_dir=tmp_path)]
    assert clutrr.shared_stories(train, test) == 0 and len(test) == 30
    assert not clutrr.stories.cache_path(30, [2, 3], 5, folder=tmp_path).exists()  # not the old independent test file
    files = sorted(tmp_path.glob("clutrr_test_*.json"))
    assert len(files) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid cache loads without a warning, stats included
        _, reloaded, reloaded_stats = clutrr.cached_split(90, 30, k=[2, 3], train_seed=0, test_seed=5,
                                                          cache_dir=tmp_path)
    assert [s.to_dict() for s in reloaded] == [s.to_dict() for s in test] and reloaded_stats == stats

    files[0].write_text(files[0].read_text().replace('"repeats_dropped": ', '"repeats_dropped": 1', 1))
    with pytest.warns(UserWarning, match="checksum"):  # the stats are checksummed with the stories
        clutrr.cached_split(90, 30, k=[2, 3], train_seed=0, test_seed=5, cache_dir=tmp_path)

    clutrr.cached_split(60, 30, k=[2, 3], train_seed=0, test_seed=5, cache_dir=tmp_path)  # other training stories
    assert len(list(tmp_path.glob("clutrr_test_*.json"))) == 2
    monkeypatch.setattr(clutrr.split, "SPLIT_VERSION", clutrr.split.SPLIT_VERSION + 1)  # another split rule: a new file
    clutrr.cached_split(90, 30, k=[2, 3], train_seed=0, test_seed=5, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("clutrr_test_*.json"))) == 3
    _, uncached, _ = clutrr.cached_split(90, 30, k=[2, 3], train_seed=0, test_seed=5, cache=False)
    assert [s.to_dict() for s in uncached] == [s.to_dict() for s in test]

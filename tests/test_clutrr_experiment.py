import matplotlib

matplotlib.use("Agg")

import itertools
import json

import pytest
import torch

from srnlib import profiles, results
from srnlib.clutrr import RELATIONS, experiment, generate, plots, tokenize
from srnlib.clutrr.dataset import entity_numbers
from srnlib.config import ClutrrConfig


@pytest.fixture
def cfg():
    settings = profiles.get("clutrr", "smoke")
    return profiles.override(settings, {"train_stories": 30, "test_stories": 15, "word_dim": 8, "lstm_hidden": 8,
                                        "rn_hidden": 8, "refiner.agg_hidden": 8})


def test_data_splits_are_disjoint_held_out_and_share_the_training_vocabulary(cfg, isolated_home):
    data = experiment.load_data(cfg, seed=0)
    assert len(data["train"]) == 30 and len(data["test"]) == 15
    assert data["train"].vocabulary is data["test"].vocabulary is data["vocabulary"]
    train_sentences = {story.sentences for story in data["train"].stories}
    assert not train_sentences & {story.sentences for story in data["test"].stories}
    assert sorted(set(data["test"].k.tolist())) == [2, 3, 4]
    assert data["train"].max_sentences == 4 <= cfg.set_size


def as_the_model_sees_it(story):
    """Independent of data.canonical_key: the model's placeholder sentences (sorted: a set) and query, minimised over
    every renumbering of the placeholders (not over sentence orders)."""
    tokens, numbers = tokenize(story), entity_numbers(story)
    query = [numbers[name] for name in story.query]
    used = sorted({int(t[4:]) for sentence in tokens for t in sentence if t.startswith("@ent")} | set(query))
    best = None
    for renumbered in itertools.permutations(used):
        new = dict(zip(used, renumbered))
        key = (sorted(tuple(f"@ent{new[int(t[4:])]}" if t.startswith("@ent") else t for t in sentence)
                      for sentence in tokens), [new[q] for q in query])
        best = key if best is None or key < best else best
    return repr(best)


def test_no_test_story_equals_a_training_story_as_the_model_sees_it(cfg, isolated_home):
    cfg.update(train_stories=900, test_stories=300)
    independent = generate(300, cfg.train_k, seed=experiment.TEST_SEED_OFFSET)  # what the test set used to be
    data = experiment.load_data(cfg, seed=0)
    seen = {as_the_model_sees_it(story) for story in data["train"].stories}
    assert sum(as_the_model_sees_it(story) in seen for story in independent) > 10  # the check has teeth
    assert not seen & {as_the_model_sees_it(story) for story in data["test"].stories}
    assert [story.k for story in data["test"].stories] == [2, 3, 4] * 100
    assert {k: s["candidates"] - s["repeats_dropped"] for k, s in data["split"].items()} == {"2": 100, "3": 100,
                                                                                            "4": 100}


def test_evaluate_counts_correct_answers_overall_and_by_k():
    stories = generate(6, k=[2, 3], seed=1)
    from srnlib.clutrr import ClutrrDataset, Vocabulary
    dataset = ClutrrDataset(stories, Vocabulary.build(stories))

    class Oracle(torch.nn.Module):  # right on every k = 2 story, wrong on every k = 3 story
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.calls = 0

        def forward(self, sentences, mask, query):
            rows = slice(self.calls, self.calls + len(sentences))
            self.calls += len(sentences)
            target, ks = dataset.target[rows], dataset.k[rows]
            answer = torch.where(ks == 2, target, (target + 1) % len(RELATIONS))
            return torch.nn.functional.one_hot(answer, len(RELATIONS)).float()

    result = experiment.evaluate(Oracle(), dataset)
    assert result == {"accuracy": 50.0, "accuracy_k2": 100.0, "accuracy_k3": 0.0}


def test_best_epoch_takes_the_best_average_and_summary_reads_it():
    history = [{"epoch": 1, "accuracy": 30.0, "accuracy_k2": 40.0, "accuracy_k3": 20.0},
               {"epoch": 2, "accuracy": 45.0, "accuracy_k2": 50.0, "accuracy_k3": 40.0},
               {"epoch": 3, "accuracy": 45.0, "accuracy_k2": 60.0, "accuracy_k3": 30.0},
               {"epoch": 4, "accuracy": 41.0, "accuracy_k2": 42.0, "accuracy_k3": 40.0}]
    assert experiment.best_epoch(history)["epoch"] == 2
    accuracy, by_k = experiment.summary({"rn": history})
    assert accuracy == {"rn": 45.0} and by_k == {"rn": {"2": 50.0, "3": 40.0}}
    with pytest.raises(ValueError, match="test accuracy"):
        experiment.best_epoch([{"epoch": 1, "train_loss": 1.0}])


def test_train_models_trains_then_loads_from_the_checkpoint(cfg, isolated_home):
    models, histories, data = experiment.train_models(cfg, seed=0)
    assert set(models) == set(experiment.KINDS)
    for kind, history in histories.items():
        assert len(history) == cfg.epochs and {"accuracy", "accuracy_k2", "accuracy_k4"} <= set(history[0])
    saved = {kind: model.state_dict() for kind, model in models.items()}
    again, histories_again, _ = experiment.train_models(cfg, seed=0)  # loads, does not train
    assert histories_again == histories
    for kind, model in again.items():
        for name, tensor in model.state_dict().items():
            torch.testing.assert_close(tensor, saved[kind][name])
    saved_files = list((isolated_home / "checkpoints" / "clutrr").glob("*.pt"))
    assert len(saved_files) == 3
    keyed = profiles.settings_hash(experiment.run_settings(cfg))  # the test split's version is in the key
    assert keyed != profiles.settings_hash(dict(cfg)) and all(keyed in path.name for path in saved_files)
    assert experiment.curves(histories)["rn"] == [record["accuracy"] for record in histories["rn"]]
    optimizer_decay = {kind: cfg.weight_decay[kind] for kind in experiment.KINDS}
    assert optimizer_decay["rn_grn"] < optimizer_decay["rn"] == optimizer_decay["rn_srn"]


def test_look_inside_gives_the_refined_set_and_graph(cfg, isolated_home):
    data = experiment.load_data(cfg, seed=0)
    vocabulary, config = len(data["vocabulary"]), ClutrrConfig.from_settings(cfg)
    srn = experiment.build_model("rn_srn", config, vocabulary)
    inside = experiment.look_inside(srn, data["test"], 0)
    assert inside["S0"].shape == inside["refined"].shape == (cfg.set_size, cfg.lstm_hidden)
    assert inside["S0"][inside["sentences"]:].abs().sum() == 0  # zero padding
    assert not torch.equal(inside["S0"], inside["refined"])
    assert len(inside["inner_loss"]) == cfg.refiner.steps + 1
    grn = experiment.build_model("rn_grn", config, vocabulary)
    inside = experiment.look_inside(grn, data["test"], 1)
    assert inside["edges"].shape == inside["edges0"].shape == (cfg.set_size, cfg.set_size)
    assert not torch.equal(inside["edges"], inside["edges0"])  # the edge weights are refined
    with pytest.raises(ValueError, match="no refiner"):
        experiment.look_inside(experiment.build_model("rn", config, vocabulary), data["test"], 0)
    for figure in (plots.refined_set(experiment.look_inside(srn, data["test"], 0)), plots.refined_graph(inside)):
        assert len(figure.axes) >= 2


def test_family_tree_draws_every_person_in_generation_rows():
    story = generate(1, k=4, seed=3)[0]
    layout = plots.tree_layout(story.tree)
    assert set(layout) == set(range(len(story.tree)))
    assert all(y == -story.tree.generations[p] for p, (_, y) in layout.items())
    assert len(set(layout.values())) == len(layout)  # nobody drawn on top of anybody
    for person, partner in enumerate(story.tree.spouse):
        if partner >= 0:
            assert abs(layout[person][0] - layout[partner][0]) == 1.0  # couples side by side
    figure = plots.family_tree(story)
    texts = {text.get_text() for text in figure.axes[0].texts}
    assert set(story.tree.names) <= texts
    assert story.target in figure.axes[0].get_title()


def test_accuracy_by_k_bars():
    figure = plots.accuracy_by_k({"rn": {"2": 50.0, "3": 40.0, "4": 30.0}, "rn_srn": {"2": 55.0, "3": 45.0, "4": 35.0}},
                                 experiment.PAPER_ACCURACY)
    assert len(figure.axes[0].patches) == 6


def test_seed_results_pool_only_runs_with_these_settings_and_split(cfg, isolated_home):
    keyed = profiles.settings_hash(experiment.run_settings(cfg))
    for seed, settings in ((0, keyed), (1, "another split"), (3, keyed)):
        results.write_results("05_clutrr", cfg.profile, [seed], 1.0, accuracy={"rn": float(seed)},
                              settings_hash=settings)
    found = experiment.seed_results(cfg, range(5))
    assert [result["seeds"] for result in found] == [[0], [3]]
    path = isolated_home / "results" / f"05_clutrr.{cfg.profile}.seed3.json"
    assert json.loads(path.read_text())["accuracy"] == {"rn": 3.0}

import pytest
import torch

from srnlib.clutrr.models import KinshipReasoner
from srnlib.config import ClutrrConfig

VOCABULARY, RELATIONS = 30, 20


def stories(batch=3, sentences=4, words=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, VOCABULARY, (batch, sentences, words), generator=generator)
    mask = torch.ones(batch, sentences, dtype=torch.bool)
    mask[0, 2:] = False  # the first story has only two sentences
    tokens[~mask] = 0
    return tokens, mask, torch.randint(1, VOCABULARY, (batch, 2), generator=generator)


def model(kind):
    config = ClutrrConfig.from_profile("smoke").replace(word_dim=8, lstm_hidden=8, set_size=6,
                                                        refiner={"agg_hidden": 16, "steps": 2, "lr": 0.5})
    return KinshipReasoner(kind, config, VOCABULARY, RELATIONS)


@pytest.mark.parametrize("kind", KinshipReasoner.KINDS)
def test_every_kind_answers_and_trains_every_parameter(kind):
    reasoner = model(kind)
    logits = reasoner(*stories())
    assert logits.shape == (3, RELATIONS)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 5, 19])).backward()
    untouched = [name for name, p in reasoner.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert untouched == []
    assert reasoner.sentences.embedding.weight.grad[0].abs().sum() == 0  # the padding token stays zero


@pytest.mark.parametrize("kind", KinshipReasoner.KINDS)
def test_the_answer_ignores_the_order_of_sentences(kind):
    reasoner = model(kind).double().eval()
    tokens, mask, query = stories()
    order = torch.tensor([3, 1, 0, 2])
    tokens, mask = tokens[1:], mask[1:]  # stories with every sentence present
    torch.testing.assert_close(reasoner(tokens, mask, query[1:]), reasoner(tokens[:, order], mask[:, order], query[1:]))


def test_the_baseline_ignores_padding_sentences():
    reasoner = model("rn").eval()
    tokens, mask, query = stories()
    padded = torch.cat([tokens, torch.zeros(3, 2, 6, dtype=torch.long)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(3, 2, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(reasoner(padded, padded_mask, query), reasoner(tokens, mask, query))


def test_bad_inputs_are_reported():
    tokens, mask, query = stories()
    with pytest.raises(ValueError, match="kind"):
        model("lstm")
    with pytest.raises(ValueError, match="sentence_mask"):
        model("rn")(tokens, mask.float(), query)
    with pytest.raises(ValueError, match="query"):
        model("rn")(tokens, mask, query[:, :1])
    with pytest.raises(ValueError, match="set_size"):
        model("rn_srn")(torch.ones(1, 7, 3, dtype=torch.long), torch.ones(1, 7, dtype=torch.bool), query[:1])


def test_every_shipped_clutrr_checkpoint_loads_strictly_into_todays_model():
    from srnlib import paths, profiles, shipped
    from srnlib.clutrr import experiment
    from srnlib.clutrr.models import build_model

    checked = 0
    for path, manifest in shipped.experiment_checkpoints("clutrr", paths.repo_root() / "shipped"):
        cfg = profiles.get("clutrr", manifest["profile"])
        settings = experiment.run_settings(cfg)
        assert profiles.settings_hash(settings) == manifest["settings_hash"], f"{path.name}: settings changed"
        state = shipped.load_shipped(path, settings)
        vocabulary_size = state["model"]["sentences.embedding.weight"].shape[0]  # the stories' tokens, fixed by the generator
        model = build_model(manifest["name"], ClutrrConfig.from_settings(cfg), vocabulary_size)
        model.load_state_dict(state["model"])  # strict: every name and shape fits
        checked += 1
    assert checked in (0, 15)  # none, or the long profile's 5 seeds x 3 models

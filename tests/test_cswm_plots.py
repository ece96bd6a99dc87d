import math

import matplotlib.pyplot as plt
import pytest
import torch

from srnlib import report
from srnlib.config import CswmConfig
from srnlib.cswm import experiment, models, plots


def scores(h1, mrr):
    return {steps: {"h1": float(h1), "mrr": float(mrr)} for steps in ("1", "5", "10")}


def test_summarise_gives_means_and_sample_stds_in_table3_layout():
    runs = {"space_invaders": {"cswm_k3": [scores(10, 20), scores(20, 40)], "srn_k3": [scores(30, 50)]}}
    means, stds = experiment.summarise(runs)
    assert means["space_invaders"]["cswm_k3"]["10"] == {"h1": 15.0, "mrr": 30.0}
    assert stds["space_invaders"]["cswm_k3"]["1"]["h1"] == pytest.approx(math.sqrt(50))
    assert stds["space_invaders"]["srn_k3"]["5"] == {"h1": 0.0, "mrr": 0.0}  # one seed
    with pytest.raises(ValueError, match="no scores"):
        experiment.summarise({"pong": {"cswm_k3": []}})


def test_table3_marks_the_claim_when_some_k_holds():
    table = {"space_invaders": {"cswm_k3": scores(10, 20), "srn_k3": scores(12, 19),
                                "cswm_k5": scores(10, 20), "srn_k5": scores(10, 20)}}
    assert report.table3({"table3": table})[-1].endswith("✓")  # the predicate itself: tests/test_paper.py


def test_object_masks_of_one_observation():
    config = CswmConfig.from_profile("smoke").replace(in_channels=6, objects=3, state_dim=4, action_dim=6,
                                                      mlp_hidden=16, copy_action=True,
                                                      refiner={"embed_dim": 8, "agg_hidden": 8, "steps": 1})
    model = models.build_model("srn", config)
    observation = torch.randint(0, 256, (6, 50, 50), dtype=torch.uint8)
    masks = experiment.object_masks(model, observation)
    assert masks.shape == (3, 10, 10) and ((masks > 0) & (masks < 1)).all()
    torch.testing.assert_close(masks, experiment.object_masks(model, observation.float() / 255))
    with pytest.raises(ValueError, match="one tensor"):
        experiment.object_masks(model, observation.unsqueeze(0))


def test_frames_of_stacked_and_single_observations():
    stacked = torch.zeros(6, 50, 50, dtype=torch.uint8)
    stacked[:3] = 255  # the newest frame comes first in the channels
    older, newer = plots.frames_of(stacked)
    assert older.shape == newer.shape == (50, 50, 3) and older.max() == 0 and newer.min() == 1
    assert len(plots.frames_of(torch.rand(3, 50, 50))) == 1
    with pytest.raises(ValueError, match="observation"):
        plots.frames_of(torch.rand(4, 50, 50))
    with pytest.raises(ValueError, match="observation"):
        plots.frames_of([[0.0]])


def test_figures_and_text_table():
    table = {"space_invaders": {"cswm_k3": scores(10, 20), "srn_k3": scores(30, 40)}}
    stds = {"space_invaders": {"cswm_k3": scores(1, 2), "srn_k3": scores(0, 0)}}
    paper = report.PAPER["table3"]
    text = plots.table3_text(table, stds, paper).splitlines()
    assert len(text) == 1 + 6 and "C-SWM+SRN, K=3" in text[-1] and "47.8" in text[-1] and "66.7" in text[-1]
    for figure in (plots.table3(table, stds, paper),
                   plots.stacked_frames([torch.rand(6, 50, 50), torch.rand(3, 50, 50)], ["a", "b"]),
                   plots.object_masks(torch.rand(6, 50, 50), {"cswm_k3": torch.rand(3, 10, 10),
                                                              "srn_k5": torch.rand(5, 10, 10)})):
        assert isinstance(figure, plt.Figure)
        plt.close(figure)
    with pytest.raises(ValueError, match="title"):
        plots.stacked_frames([torch.rand(6, 50, 50)], [])
    with pytest.raises(ValueError, match="at least one"):
        plots.object_masks(torch.rand(6, 50, 50), {})
    with pytest.raises(ValueError, match="model keys"):
        plots.model_label("rn_k3")
    with pytest.raises(ValueError, match="at least one game"):
        plots.table3({}, {})

import json

import pytest
import torch

import srnlib
from srnlib import responsibility as lesson


def test_the_generator_ignores_order_and_is_continuous():
    points = lesson.random_point_sets(8, seed=0)
    torch.testing.assert_close(lesson.render(points), lesson.render(points.flip(1)))
    nudged = lesson.render(points + 1e-4)
    assert (nudged - lesson.render(points)).abs().max() < 1e-2


def test_the_rotating_pair_returns_to_the_same_set_with_the_order_swapped():
    degrees, points = lesson.rotating_pair(5)
    assert degrees.tolist() == [0, 90, 180, 270, 360]
    torch.testing.assert_close(points[2], points[0].flip(0))  # 180 degrees: same set, swapped list
    torch.testing.assert_close(lesson.render(points[2:3]), lesson.render(points[0:1]))
    torch.testing.assert_close(points[4], points[0], atol=1e-6, rtol=0)
    assert (points.mean(dim=1) - torch.tensor(lesson.PROBE_CENTRE)).abs().max() < 1e-6
    assert ((points[:, 0] - points[:, 1]).norm(dim=1) - 2 * lesson.PROBE_RADIUS).abs().max() < 1e-6


def test_slot_swaps_detects_the_hand_over():
    degrees, points = lesson.rotating_pair(9)
    predicted = points.clone()
    predicted[5:] = predicted[5:].flip(1)  # slot 0 jumps to the other point after 180 degrees
    assert lesson.slot_swaps(predicted, points).tolist() == [0] * 5 + [1] * 4


def test_smoke_training_runs_caches_and_writes_results(isolated_home):
    cfg = srnlib.profiles.get("responsibility", "smoke")
    models, histories = lesson.train_models(cfg, seed=0)
    assert set(models) == {"continuous", "iterative"}
    assert all(len(h) == cfg.epochs for h in histories.values())
    assert len(list((isolated_home / "checkpoints" / "responsibility").glob("*.pt"))) == 2
    _, again = lesson.train_models(cfg, seed=0)  # loaded, not retrained
    assert again == histories
    sweep = lesson.rotation_sweep(models["iterative"], cfg.rotation_angles)
    assert sweep["predicted"].shape == (cfg.rotation_angles, 2, 2)
    rate = lesson.spike_rate(models["continuous"], cfg.validation_pairs)
    assert 0.0 <= rate <= 1.0
    path = srnlib.results.write_results("demo", "smoke", [0], 1.0, max_error=lesson.worst_case(sweep)["max_error"])
    payload = json.loads(path.read_text())
    assert {"profile", "seeds", "wall_seconds", "torch_version", "device", "max_error"} <= set(payload)



def test_wrong_fraction_counts_the_angles_above_the_threshold():
    sweep = {"error": torch.tensor([0.0, 0.2, 0.05, 1.0])}
    assert lesson.wrong_fraction(sweep, 0.1) == 0.5
    assert lesson.wrong_fraction(sweep, 1.0) == 0.0  # strictly above
    assert lesson.wrong_fraction(sweep, 0.0) == 0.75
    with pytest.raises(ValueError, match="threshold"):
        lesson.wrong_fraction(sweep, -1.0)

"""srnlib.cswm: the block-pushing environment against a plain-Python oracle, datasets, caching, tiny Atari
collections (skipped without ale-py) and the de-duplicated Hits@1 / MRR ranking metric."""
import numpy as np
import pytest
import torch

from srnlib import cswm
from srnlib.cswm import data as cswm_data
from srnlib.cswm import environments
from srnlib.cswm.ranking import ranking_scores, target_ranks

needs_ale = pytest.mark.skipif(not cswm.ale_available(),
                               reason="gymnasium / ale-py not importable: `pip install gymnasium ale-py` for Atari")


# ------------------------------------------------------------------------------------------------ shapes: the oracle
def oracle_push(positions, action):
    """Plain-Python block pushing: a list of 5 [row, column] cells and one action -> the new list."""
    moved, direction = action // 4, action % 4
    d_row, d_column = [(-1, 0), (0, 1), (1, 0), (0, -1)][direction]
    row, column = positions[moved][0] + d_row, positions[moved][1] + d_column
    if not (0 <= row < 5 and 0 <= column < 5):
        return [list(p) for p in positions]
    if any([row, column] == list(p) for index, p in enumerate(positions) if index != moved):
        return [list(p) for p in positions]
    new = [list(p) for p in positions]
    new[moved] = [row, column]
    return new


def test_shapes_dynamics_match_a_plain_python_oracle():
    transitions = cswm.collect("shapes", 40, 25, seed=3, cache=False)
    assert transitions.positions.shape == (40, 26, 5, 2)
    changed = blocked = 0
    for episode in range(40):
        state = transitions.positions[episode, 0].tolist()
        assert len({tuple(p) for p in state}) == 5 and all(0 <= v < 5 for p in state for v in p)
        for t in range(25):
            new_state = oracle_push(state, int(transitions.actions[episode, t]))
            assert transitions.positions[episode, t + 1].tolist() == new_state, (episode, t)
            changed += new_state != state
            blocked += new_state == state
            state = new_state
    assert changed > 0 and blocked > 0  # both kinds of step were exercised


def test_push_handles_walls_and_other_objects():
    start = np.array([[[0, 0], [0, 1], [2, 2], [4, 4], [3, 0]]])
    assert (cswm.push(start, np.array([0])) == start).all()        # object 0 up: wall
    assert (cswm.push(start, np.array([1])) == start).all()        # object 0 right: object 1 is there
    moved = cswm.push(start, np.array([2]))                       # object 0 down: free
    assert moved[0, 0].tolist() == [1, 0] and (moved[0, 1:] == start[0, 1:]).all()
    assert (cswm.push(start, np.array([4 * 3 + 1])) == start).all()  # object 3 right: wall
    assert cswm.push(start, np.array([4 * 2 + 3]))[0, 2].tolist() == [2, 1]  # object 2 left
    with pytest.raises(ValueError, match="actions"):
        cswm.push(start, np.array([20]))
    with pytest.raises(ValueError, match="positions"):
        cswm.push(start[:, :4], np.array([0]))


def test_rendering_puts_each_objects_colour_in_its_cell():
    positions = cswm.collect("shapes", 20, 3, seed=1, cache=False).positions.reshape(-1, 5, 2)
    frames = cswm.render_shapes(positions)
    assert frames.shape == (80, 3, 50, 50) and frames.dtype == np.uint8
    labels = environments.render_labels(positions)  # label 1 + i exactly where object i's colour is
    assert np.array_equal(np.moveaxis(environments._PALETTE[labels], -1, 1), frames)
    for frame, state in zip(frames, positions):
        occupied = set()
        for index, (row, column) in enumerate(state):
            cell = frame[:, 10 * row:10 * row + 10, 10 * column:10 * column + 10].reshape(3, -1).T
            colour = environments.SHAPE_COLOURS[index]
            is_colour = (cell == colour).all(-1)
            assert is_colour.sum() >= 40  # the shape fills a good part of its cell
            assert ((cell == 0).all(-1) | is_colour).all()  # nothing else in the cell
            occupied.add((int(row), int(column)))
        for row in range(5):
            for column in range(5):
                if (row, column) not in occupied:
                    assert not frame[:, 10 * row:10 * row + 10, 10 * column:10 * column + 10].any()


# ---------------------------------------------------------------------------------------------- datasets and evals
def test_shapes_dataset_and_eval_shapes_and_dtypes():
    transitions = cswm.collect("shapes", 6, 10, seed=0, cache=False)
    assert transitions.frames.shape == (6, 11, 3, 50, 50) and transitions.frames.dtype == np.uint8
    assert transitions.actions.shape == (6, 10) and transitions.actions.dtype == np.int64
    assert transitions.channels == 3 and transitions.n_actions == 20
    dataset = cswm.TransitionDataset(transitions)
    assert len(dataset) == 60
    obs, action, next_obs = dataset[13]  # episode 1, step 3
    assert obs.shape == next_obs.shape == (3, 50, 50) and obs.dtype == next_obs.dtype == torch.float32
    assert action.dtype == torch.int64 and int(action) == transitions.actions[1, 3]
    assert 0.0 <= float(obs.min()) and float(obs.max()) <= 1.0
    assert torch.equal(obs, torch.from_numpy(transitions.frames[1, 3]).float() / 255)
    assert torch.equal(next_obs, dataset[14][0])  # next_obs of step t is obs of step t + 1
    with pytest.raises(IndexError):
        dataset[60]
    evaluations = cswm.multi_step_eval(transitions)
    assert sorted(evaluations) == [1, 5, 10]
    for k, evaluation in evaluations.items():
        assert len(evaluation) == 6 and evaluation.obs.dtype == torch.uint8
        assert evaluation.obs.shape == evaluation.next_obs.shape == (6, 3, 50, 50)
        assert evaluation.actions.shape == (6, k) and evaluation.target_ids.shape == (6,)
        assert torch.equal(evaluation.actions, torch.from_numpy(transitions.actions[:, :k]))
        assert torch.equal(evaluation.next_obs, torch.from_numpy(transitions.frames[:, k]))
        assert torch.equal(evaluation.float_obs(), evaluation.obs.float() / 255)


def test_target_ids_are_equal_exactly_for_identical_observations():
    transitions = cswm.collect("shapes", 3, 2, seed=0, cache=False)
    transitions.frames[2] = transitions.frames[0]  # make episode 2 a copy of episode 0
    ids = cswm.multi_step_eval(transitions, horizons=(2,))[2].target_ids
    assert ids[0] == ids[2] and ids[0] != ids[1]


def test_collection_is_deterministic_with_seeds():
    first = cswm.collect("shapes", 5, 10, seed=7, cache=False)
    again = cswm.collect("shapes", 5, 10, seed=7, cache=False)
    other = cswm.collect("shapes", 5, 10, seed=8, cache=False)
    assert np.array_equal(first.frames, again.frames) and np.array_equal(first.actions, again.actions)
    assert not np.array_equal(first.actions, other.actions)


def test_cache_round_trip_and_corruption_is_detected_and_regenerated(tmp_path):
    made = cswm.collect("shapes", 4, 5, seed=2, cache_dir=tmp_path)
    path = made.path
    assert path.exists() and path.parent == tmp_path and "shapes" in path.name
    loaded = cswm.collect("shapes", 4, 5, seed=2, cache_dir=tmp_path)
    assert np.array_equal(made.frames, loaded.frames) and np.array_equal(made.positions, loaded.positions)
    assert not list(tmp_path.glob("*.tmp*"))  # the temporary file was moved into place

    path.write_bytes(path.read_bytes()[:200])  # truncated file
    with pytest.warns(UserWarning, match="regenerating"):
        regenerated = cswm.collect("shapes", 4, 5, seed=2, cache_dir=tmp_path)
    assert np.array_equal(regenerated.frames, made.frames)

    with np.load(path, allow_pickle=False) as stored:  # right key, tampered frames: checksum mismatch
        arrays = {name: stored[name] for name in stored.files}
    arrays["frames"] = arrays["frames"].copy()
    arrays["frames"][0, 0, 0, 0, 0] ^= 1
    np.savez_compressed(path, **arrays)
    with pytest.warns(UserWarning, match="checksum"):
        regenerated = cswm.collect("shapes", 4, 5, seed=2, cache_dir=tmp_path)
    assert np.array_equal(regenerated.frames, made.frames)

    other = cswm_data.cache_path("shapes", 4, 5, seed=3, folder=tmp_path)  # a file under another key's name
    other.write_bytes(path.read_bytes())
    with pytest.warns(UserWarning, match="does not match"):
        cswm.collect("shapes", 4, 5, seed=3, cache_dir=tmp_path)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="env_name"):
        cswm.collect("breakout", 2)
    with pytest.raises(TypeError, match="env_name"):
        cswm.collect(3, 2)
    with pytest.raises(ValueError, match="episodes"):
        cswm.collect("shapes", 0)
    with pytest.raises(TypeError, match="steps"):
        cswm.collect("shapes", 2, steps="10")
    with pytest.raises(ValueError, match="seed"):
        cswm.collect("shapes", 2, seed=-1)
    with pytest.raises(ValueError, match="burn_in"):
        cswm.collect("shapes", 2, burn_in=5)
    with pytest.raises(TypeError, match="cache"):
        cswm.collect("shapes", 2, cache="yes")
    transitions = cswm.collect("shapes", 2, 3, cache=False)
    with pytest.raises(ValueError, match="horizons"):
        cswm.multi_step_eval(transitions, horizons=(1, 5))
    with pytest.raises(TypeError, match="horizons"):
        cswm.multi_step_eval(transitions, horizons=1)
    with pytest.raises(TypeError, match="transitions"):
        cswm.TransitionDataset(transitions.frames)


# ------------------------------------------------------------------------------------------------------------ Atari
@needs_ale
@pytest.mark.parametrize("game", ["pong", "space_invaders"])
def test_tiny_atari_collection(game, tmp_path):
    transitions = cswm.collect(game, 2, 3, seed=0, cache_dir=tmp_path)
    assert transitions.frames.shape == (2, 5, 3, 50, 50) and transitions.frames.dtype == np.uint8
    assert transitions.actions.shape == (2, 3) and ((0 <= transitions.actions) & (transitions.actions < 6)).all()
    assert transitions.channels == 6 and transitions.positions is None
    observations = transitions.observations()
    assert observations.shape == (2, 4, 6, 50, 50)
    # channels [current | previous]: the previous frame of step t is the current frame of step t - 1
    assert np.array_equal(observations[:, 1:, 3:], observations[:, :-1, :3])
    changes = (observations[:, 1:, :3] != observations[:, :-1, :3]).reshape(2, 3, -1).any(-1)
    assert changes.mean() >= 0.5  # frames change over time
    assert transitions.frames.max() > 0 and len(np.unique(transitions.frames)) > 2
    obs, action, next_obs = cswm.TransitionDataset(transitions)[4]  # episode 1, step 1
    assert obs.shape == next_obs.shape == (6, 50, 50) and obs.dtype == torch.float32
    assert torch.equal(obs, torch.from_numpy(observations[1, 1]).float() / 255)
    assert torch.equal(next_obs, torch.from_numpy(observations[1, 2]).float() / 255)
    assert int(action) == transitions.actions[1, 1]
    assert cswm.multi_step_eval(transitions, horizons=(1, 3))[3].next_obs.shape == (2, 6, 50, 50)
    again = cswm.collect(game, 2, 3, seed=0, cache=False)
    assert np.array_equal(again.frames, transitions.frames) and np.array_equal(again.actions, transitions.actions)


class _FakeAtari:
    """Stands in for an ALE environment: frame value = step count; the game ends when action 5 is taken."""

    observation_space = type("Space", (), {"shape": (210, 160, 3)})()

    def reset(self, seed=None):
        self.count = 0
        return np.zeros((210, 160, 3), np.uint8), {}

    def step(self, action):
        self.count += 1
        return np.full((210, 160, 3), self.count, np.uint8), 0.0, action == 5, False, {}

    def close(self):
        pass


def test_atari_episodes_that_end_early_are_replayed(monkeypatch):
    monkeypatch.setattr(environments, "make_atari_env", lambda env_name: _FakeAtari())
    collected = environments.collect_atari("pong", episodes=20, steps=4, seed=0, burn_in=0)
    assert collected["frames"].shape == (20, 6, 3, 50, 50)
    assert not (collected["actions"][:, :-1] == 5).any()  # an ending before the last step is never stored
    assert (collected["actions"][:, -1] == 5).any()       # ending on the last step is fine
    assert (collected["frames"][:, :, 0, 0, 0] == np.arange(6)).all()  # reset frame 0, NOOP, then one per action


# ---------------------------------------------------------------------------------------------------------- ranking
def test_perfect_predictions_score_100():
    targets = torch.randn(12, 3, 4)
    assert ranking_scores(targets.clone(), targets) == {"h1": 100.0, "mrr": 100.0}


def test_a_known_ranking_gives_known_hits_and_mrr():
    targets = torch.tensor([0.0, 1.0, 2.0, 3.0]).reshape(4, 1, 1)
    predicted = torch.tensor([0.0, 0.1, 3.0, 0.0]).reshape(4, 1, 1)
    # 0 -> exact (rank 1); 0.1 -> target 0 closer than 1 (rank 2); 3.0 -> target 3 closer than 2 (rank 2);
    # 0.0 -> targets 0, 1, 2 closer than 3 (rank 4)
    assert target_ranks(predicted, targets).tolist() == [1, 2, 2, 4]
    scores = ranking_scores(predicted, targets, hits_at=(1, 2))
    assert scores["h1"] == pytest.approx(25.0) and scores["h2"] == pytest.approx(75.0)
    assert scores["mrr"] == pytest.approx(100 * (1 + 1 / 2 + 1 / 2 + 1 / 4) / 4)


def test_ties_with_a_wrong_state_favour_the_true_target():
    targets = torch.tensor([[0.0, 0.0], [2.0, 0.0]]).reshape(2, 1, 2)
    predicted = torch.tensor([[1.0, 0.0], [1.0, 0.0]]).reshape(2, 1, 2)  # equidistant from both
    assert target_ranks(predicted, targets).tolist() == [1, 1]


def test_duplicates_of_the_true_target_do_not_deflate_the_score():
    targets = torch.tensor([0.0, 0.2, 5.0]).reshape(3, 1, 1)  # rows 0 and 1 are the same state
    predicted = torch.tensor([0.2, 0.0, 5.0]).reshape(3, 1, 1)  # each lands on its duplicate
    assert target_ranks(predicted, targets, target_ids=torch.tensor([0, 0, 1])).tolist() == [1, 1, 1]
    assert target_ranks(predicted, targets, target_ids=torch.arange(3)).tolist() == [2, 2, 1]  # no de-dup
    # identical target embeddings share an id without ids given
    same = torch.tensor([0.0, 0.0, 5.0]).reshape(3, 1, 1)
    assert ranking_scores(torch.tensor([0.1, 0.1, 5.0]).reshape(3, 1, 1), same) == {"h1": 100.0, "mrr": 100.0}


def test_duplicates_of_a_wrong_candidate_count_once():
    targets = torch.tensor([0.0, 1.0, 1.0, 1.0, 5.0]).reshape(5, 1, 1)
    predicted = torch.tensor([0.9, 1.0, 1.0, 1.0, 5.0]).reshape(5, 1, 1)
    ids = np.array([0, 1, 1, 1, 2])
    assert target_ranks(predicted, targets, target_ids=ids).tolist() == [2, 1, 1, 1, 1]
    assert target_ranks(predicted, targets).tolist() == [2, 1, 1, 1, 1]  # the same ids from equal embeddings
    assert target_ranks(predicted, targets, target_ids=np.arange(5))[0] == 4  # without de-dup: three competitors


def test_vectorised_ranks_match_a_brute_force_loop():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 15, (40,), generator=generator)
    state_embeddings = torch.randn(15, 2, 3, generator=generator, dtype=torch.float64)
    targets = state_embeddings[ids]
    predicted = targets + 0.8 * torch.randn(40, 2, 3, generator=generator, dtype=torch.float64)
    expected = []
    for i in range(40):
        distance = {}
        for j in range(40):
            d = float(torch.linalg.norm(predicted[i] - targets[j]))
            distance[int(ids[j])] = min(distance.get(int(ids[j]), np.inf), d)
        true = distance[int(ids[i])]
        expected.append(1 + sum(d < true for state, d in distance.items() if state != int(ids[i])))
    assert target_ranks(predicted, targets, ids).tolist() == expected
    scores = ranking_scores(predicted, targets, ids)
    assert scores["mrr"] == pytest.approx(100 * np.mean([1 / r for r in expected]))
    assert scores["h1"] == pytest.approx(100 * np.mean([r == 1 for r in expected]))


def test_ranking_bad_arguments_name_the_argument():
    good = torch.randn(4, 2, 3)
    with pytest.raises(TypeError, match="predicted"):
        ranking_scores(good.tolist(), good)
    with pytest.raises(TypeError, match="predicted"):
        ranking_scores(torch.ones(4, 2, 3, dtype=torch.int64), good)
    with pytest.raises(ValueError, match="targets"):
        ranking_scores(good, torch.randn(4, 2, 3, 1))
    with pytest.raises(ValueError, match="same shape"):
        ranking_scores(good, torch.randn(5, 2, 3))
    with pytest.raises(ValueError, match="predicted"):
        ranking_scores(torch.full((4, 2, 3), float("nan")), good)
    with pytest.raises(ValueError, match="target_ids"):
        ranking_scores(good, good, target_ids=torch.arange(3))
    with pytest.raises(TypeError, match="target_ids"):
        ranking_scores(good, good, target_ids=torch.zeros(4))
    with pytest.raises(ValueError, match="hits_at"):
        ranking_scores(good, good, hits_at=(0,))
    with pytest.raises(TypeError, match="hits_at"):
        ranking_scores(good, good, hits_at=1)

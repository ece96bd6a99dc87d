"""The C-SWM world-model experiment (Section 3.2): environments, transition data and the ranking metric.

    srnlib.cswm.collect(env_name, episodes, steps=10, seed=0) -> Transitions   "pong", "space_invaders", "shapes"
    srnlib.cswm.environments    the block-pushing simulator and renderer, Atari through ale-py, random episodes
    srnlib.cswm.TransitionDataset(transitions)   items (obs (C, 50, 50), action, next_obs (C, 50, 50)), C = 6 / 3
    srnlib.cswm.multi_step_eval(transitions)     {1, 5, 10: MultiStepEval(obs, actions (N, k), next_obs, target_ids)}
    srnlib.cswm.ranking_scores(predicted (N, K, D), targets (N, K, D), target_ids) -> {"h1": pct, "mrr": pct}
    srnlib.cswm.models.build_model("cswm" | "srn", config) -> WorldModel  C-SWM and C-SWM+SRN (a CswmConfig)
    srnlib.cswm.experiment      notebook 04's data, load_or_train, evaluate, summarise (mean / std over seeds)
    srnlib.cswm.plots           notebook 04's figures: stacked frames, object masks, Table 3
"""
from . import data, environments, models, ranking
from .data import (EVAL_HORIZONS, MultiStepEval, TransitionDataset, Transitions, collect, multi_step_eval,
                   observation_ids)
from .environments import ENV_NAMES, ale_available, push, render_shapes
from .ranking import ranking_scores, target_ranks

__all__ = ["ENV_NAMES", "EVAL_HORIZONS", "MultiStepEval", "TransitionDataset", "Transitions", "ale_available",
           "collect", "data", "environments", "models", "multi_step_eval", "observation_ids", "push", "ranking",
           "ranking_scores", "render_shapes", "target_ranks"]

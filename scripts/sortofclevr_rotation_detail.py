"""How close each model comes to being robust: per-angle accuracy on Table 2's two robustness tasks.

    OMP_NUM_THREADS=2 .venv/bin/python scripts/sortofclevr_rotation_detail.py [--profile long] [--seed 0]
        [--inner-steps 0,5,10]     # RN + SRN also evaluated with these numbers of refinement steps
        [--tasks synthetic]        # only these robustness tasks (default: both)
        [--unchosen]               # the Synthetic table as drawn, not chosen by the models' confidence
        [--angles 720]             # this many rotation angles instead of the profile's robust_angles

Table 2 counts a configuration as robust only if the model is right at *every* one of ``robust_angles`` angles,
which hides how often it is right. For the notebook's models (loaded or trained as notebook 03 does) this prints,
for the Synthetic and the Dataset task: the accuracy over all (configuration, angle) pairs, the share of
configurations answered right at >= 90 % of the angles, and at all of them (Table 2's number). With
``--inner-steps`` the RN + SRN is also scored with other numbers of refinement steps, and its test accuracy on the
furthest and closest questions is printed for each. The Synthetic configuration is the one notebook 03 scores:
chosen by both models' confidence, as the paper does (``synthetic_tables(cfg, seed, models)``).
"""
from __future__ import annotations

import argparse

import torch

from srnlib import profiles
from srnlib.sortofclevr import experiment


def rotation_scores(right: torch.Tensor) -> dict[str, float]:
    """right: bool (configurations, angles) -> percent right per angle, at >= 90 % of the angles, at all angles."""
    right = right.float()
    return {"per_angle": 100 * right.mean().item(), "most_angles": 100 * (right.mean(1) >= 0.9).float().mean().item(),
            "all_angles": 100 * right.min(1).values.mean().item()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inner-steps", default="", help="comma-separated step counts for the RN + SRN")
    parser.add_argument("--tasks", default=",".join(experiment.ROBUSTNESS_TASKS), help="comma-separated tasks")
    parser.add_argument("--unchosen", action="store_true", help="the first easy table, not the most confident one")
    parser.add_argument("--angles", type=int, default=None, help="rotation angles (default: the profile's)")
    args = parser.parse_args(argv)
    cfg = profiles.get("sortofclevr", args.profile)
    # scored by other angles only: the models are loaded by the profile's own settings
    scored = cfg if args.angles is None else profiles.override(cfg, {"robust_angles": args.angles})
    tasks = [task for task in args.tasks.split(",") if task]
    if not tasks or set(tasks) - set(experiment.ROBUSTNESS_TASKS):
        raise ValueError(f"--tasks must name some of {experiment.ROBUSTNESS_TASKS}, got {args.tasks!r}")
    models = {kind: experiment.load_or_train(kind, cfg, args.seed)[0] for kind in experiment.KINDS}
    synthetic = experiment.synthetic_tables(cfg, args.seed, () if args.unchosen else list(models.values()))
    if synthetic.confidence is not None:
        print(f"Synthetic table chosen among {experiment.SYNTHETIC_CANDIDATES}: the less sure model gives the right "
              f"answer probability {synthetic.confidence:.3f}")
    runs = [(kind, None) for kind in experiment.KINDS]
    runs += [("rn_srn", int(steps)) for steps in filter(None, args.inner_steps.split(","))]
    test_set = experiment.datasets(cfg)[2] if len(runs) > len(experiment.KINDS) else None
    for kind, steps in runs:
        name = kind if steps is None else f"{kind} with {steps} steps"
        for task in tasks:
            right = experiment.right_under_rotation(models[kind], scored, task, args.seed, inner_steps=steps,
                                                    synthetic=synthetic)
            s = rotation_scores(right)
            print(f"{name}, {task.capitalize()}: right per angle {s['per_angle']:5.1f} %, at >= 90 % of the "
                  f"{scored['robust_angles']} angles {s['most_angles']:5.1f} %, at all (Table 2) "
                  f"{s['all_angles']:5.1f} %")
        if steps is not None:
            scores = experiment.accuracy_by_category(models[kind], test_set, inner_steps=steps)
            print(f"{name}, test: furthest {scores['furthest']:5.1f} %, closest {scores['closest']:5.1f} %")


if __name__ == "__main__":
    main()

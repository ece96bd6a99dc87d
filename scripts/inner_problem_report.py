"""Where does the SRN's inner loop search? One table over every experiment's trained SRNs of a profile.

    .venv/bin/python scripts/inner_problem_report.py [--profile long] [--train]

For each SRN model of a profile that is shipped or cached (Circles ``srn``, Sort-of-CLEVR ``rn_srn``, C-SWM
``srn`` per game and K, CLUTRR ``rn_srn``; every seed found), ``srnlib.refine.inner_problem`` on 200 inputs (test
images, training transitions, test stories): how much of its own problem ||H_agg(S) - z||^2 (Eq. 2) the loop
removes in its steps, ||z||^2, ||H_agg(S_0)||^2 and how far it moves the set. A loop that searches removes much
of the loss; one whose H_agg(S_0) is near 0 only pushes the set along a learned direction. Models that are neither
shipped nor cached are skipped (``--train`` trains them: minutes at smoke, hours at long). Writes
``results/sweeps/inner_problem.<profile>.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json

import torch

from srnlib import paths, profiles, results, shipped
from srnlib.refine import inner_problem
from srnlib.train import checkpoint_path

INPUTS = 200
SEEDS = range(10)  # seeds looked for (a profile's seeds are at most 10)


def reported_seeds(experiment: str, profile: str, settings, name: str, train: bool) -> list[int]:
    """The seeds of model ``name`` to report: with ``--train`` seed 0 only (trained if missing), otherwise every seed
    whose checkpoint is shipped or cached."""
    if train:
        return [0]
    paths_of = {seed: checkpoint_path(experiment, profile, seed, settings, name) for seed in SEEDS}
    return [seed for seed, path in paths_of.items() if path.exists() or shipped.find_shipped(path) is not None]


def circles(profile: str, train: bool):
    from srnlib.circles import experiment
    cfg = profiles.get("circles", profile)
    seeds = reported_seeds("circles", profile, cfg, "srn", train)
    images = experiment.datasets(cfg)[1].images[:INPUTS].float() if seeds else None  # once, for every seed
    for seed in seeds:
        model, _ = experiment.load_or_train("srn", cfg, seed)
        with torch.no_grad():
            initial, features = model.generator(images)
        yield "circles", "srn", seed, cfg, inner_problem(model.refiner, initial, features.flatten(1)), len(images)


def sortofclevr(profile: str, train: bool):
    from srnlib.sortofclevr import experiment
    cfg = profiles.get("sortofclevr", profile)
    seeds = reported_seeds("sortofclevr", profile, cfg, "rn_srn", train)
    images = experiment.datasets(cfg)[2].image(slice(INPUTS)) if seeds else None  # once, for every seed
    for seed in seeds:
        model, _ = experiment.load_or_train("rn_srn", cfg, seed)
        yield "sortofclevr", "rn_srn", seed, cfg, model.inner_problem(images), len(images)


def cswm(profile: str, train: bool):
    from srnlib.cswm import experiment
    cfg = profiles.get("cswm", profile)
    for game in cfg["games"]:
        train_set, _ = experiment.data(game, cfg)
        observations = torch.stack([train_set[i][0] for i in range(min(INPUTS, len(train_set)))])
        for objects in cfg["objects"]:
            settings = experiment.model_settings(game, objects, cfg, train_set.n_actions)
            name = f"{game}_srn_k{objects}"
            for seed in reported_seeds("cswm", profile, settings, name, train):
                model, _ = experiment.load_or_train("srn", game, objects, cfg, seed)
                model.eval()
                with torch.no_grad():
                    masks = model.extractor(observations)
                    states = model.encoder(masks)
                numbers = inner_problem(model.refiner, states, masks.flatten(1))
                yield "cswm", f"{game} K={objects}", seed, cfg, numbers, len(observations)


def clutrr(profile: str, train: bool):
    from srnlib.clutrr import experiment
    cfg = profiles.get("clutrr", profile)
    settings = experiment.run_settings(cfg)
    for seed in reported_seeds("clutrr", profile, settings, "rn_srn", train):
        models, _, data = experiment.train_models(cfg, seed, kinds=("rn_srn",))
        model, test = models["rn_srn"], data["test"]
        batch = torch.utils.data.default_collate([test[i] for i in range(min(INPUTS, len(test)))])
        sentences, mask, *_ = experiment.trim(batch)
        with torch.no_grad():
            embeddings, cells = model.sentences(sentences)
        numbers = inner_problem(model.refiner, model.padded_set(embeddings, mask), cells, mask)
        yield "clutrr", "rn_srn", seed, cfg, numbers, len(sentences)


def table(rows: list[dict], profile: str) -> str:
    lines = [f"# Where the SRN's inner loop searches (`{profile}` models)", "",
             "Written by `scripts/inner_problem_report.py` (`srnlib.refine.inner_problem`): every shipped or cached "
             f"SRN of the `{profile}` profile on {INPUTS} inputs. `solved`: the share of the inner loss "
             "||H_agg(S) - z||^2 its steps remove; `move`: ||S_r - S_0|| / ||S_0||.", "",
             "| experiment | model | seed | inner lr | steps | L(S0) | L(Sr) | solved | z^2 | H_agg(S0)^2 | move |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = r["inner_problem"]
        lines.append(f"| {r['experiment']} | {r['model']} | {r['seed']} | {r['inner_lr']:g} | {r['steps']} | "
                     f"{n['loss_s0']:.4g} | {n['loss_sr']:.4g} | {100 * n['solved']:.1f} % | {n['z_sq']:.4g} | "
                     f"{n['agg_s0_sq']:.3g} | {n['move']:.3g} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long", choices=profiles.PROFILES)
    parser.add_argument("--train", action="store_true", help="train seed 0 of a model that is not there yet")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for source in (circles, sortofclevr, cswm, clutrr):
        for experiment, model, seed, cfg, numbers, count in source(args.profile, args.train):
            rows.append({"experiment": experiment, "model": model, "seed": seed, "inner_lr": cfg["refiner"]["lr"],
                         "steps": cfg["refiner"]["steps"], "inputs": count,
                         "inner_problem": {key: round(value, 6) for key, value in numbers.items()}})
            print(f"{experiment} {model} seed {seed}: {100 * numbers['solved']:.1f} % solved", flush=True)
    folder = paths.repo_root() / "results" / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"inner_problem.{args.profile}.json").write_text(
        json.dumps({"profile": args.profile, "device": results.hardware(), "rows": rows}, indent=1) + "\n")
    (folder / f"inner_problem.{args.profile}.md").write_text(table(rows, args.profile))
    print(f"wrote {folder / f'inner_problem.{args.profile}.md'}")


if __name__ == "__main__":
    main()

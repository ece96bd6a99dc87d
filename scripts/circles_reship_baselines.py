"""Re-key the shipped Circles baselines of a profile to its current settings, after a change the baseline never reads.

    .venv/bin/python scripts/circles_reship_baselines.py [--profile long] [--dry-run]

A shipped checkpoint is found by its settings hash, so a change of the profile's refiner settings (say z of 64 to
128) orphans the shipped baselines although their training reads no refiner setting and would give the same weights
(``experiment.UNREAD_SETTINGS``, checked by a test that trains with them changed). This ships each baseline of the
profile whose hash is not the profile's again under the profile's settings (``srnlib.shipped.reship``: same
weights, the old manifest's command, metrics and CPU-seconds, plus ``rekeyed_from``) and removes the old file. Any
other changed setting is refused (``train.rekey_checkpoint``): then the baseline must be trained again.
"""
from __future__ import annotations

import argparse
import sys

from srnlib import profiles, shipped
from srnlib.circles import experiment


def stale_baselines(profile: str) -> list:
    """Shipped Circles baselines of ``profile`` whose settings hash is not the profile's current one."""
    current = profiles.settings_hash(profiles.get("circles", profile))
    return [path for path, manifest in shipped.experiment_checkpoints(experiment.EXPERIMENT)
            if manifest["name"] == "baseline" and manifest["profile"] == profile
            and manifest["settings_hash"] != current]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="long", choices=profiles.PROFILES)
    parser.add_argument("--dry-run", action="store_true", help="list the stale baselines, change nothing")
    args = parser.parse_args(argv)
    cfg = profiles.get("circles", args.profile)
    stale = stale_baselines(args.profile)
    for path in stale:
        if args.dry_run:
            print(f"stale: {path.name}")
            continue
        target = shipped.reship(path, cfg, experiment.UNREAD_SETTINGS["baseline"])
        print(f"re-keyed {path.name} -> {target.name}")
    print(f"{len(stale)} shipped baseline(s) of profile {args.profile!r} were keyed to other settings")
    return 0


if __name__ == "__main__":
    sys.exit(main())

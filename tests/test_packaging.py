"""pyproject.toml (pip users) and environment.yml (conda users) must list the same packages."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pip_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_name(r) for r in requirements}


def conda_packages() -> set[str]:
    dependencies = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    names = {_name(d) for d in dependencies if isinstance(d, str)}  # the pip: sub-list only installs srnlib
    return {CONDA_TO_PIP.get(name, name) for name in names} - CONDA_ONLY


def test_pip_and_conda_list_the_same_packages():
    assert pip_packages() == conda_packages()


def test_the_packages_the_design_card_asks_for_are_there():
    required = {"torch", "jupyterlab", "ipywidgets", "matplotlib", "scikit-learn", "nbval", "papermill", "numpy",
                "tqdm", "pytest", "ipykernel"}
    assert required <= pip_packages()

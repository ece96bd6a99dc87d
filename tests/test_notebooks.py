"""Conventions every committed notebook follows (design.md §9); nbval runs them separately."""
import ast
import json
from pathlib import Path

import nbformat
import pytest

from srnlib import notebook_hygiene

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_responsibility_problem.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    assert not notebook_hygiene.has_outputs(nbformat.read(path, as_version=4)), "run `make clean-outputs`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_nbformat_with_cell_ids(path):
    ids = [cell.get("id") for cell in json.loads(path.read_text())["cells"]]  # raw: nbformat fills missing ids in
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs its own id (nbformat >= 4.5)"
    nbformat.validate(nbformat.reads(path.read_text(), as_version=nbformat.NO_CONVERT))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_of_literals_with_profile_and_seed(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assigned = {}
    for statement in ast.parse(tagged[0].source).body:
        assert isinstance(statement, ast.Assign), f"only assignments of literals: {ast.unparse(statement)}"
        assigned[statement.targets[0].id] = ast.literal_eval(statement.value)
    assert assigned["profile"] is None and isinstance(assigned["seed"], int)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_writes_its_results_json_and_has_no_absolute_paths(path):
    source = "".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    assert "write_results(" in source and f'"{path.stem}"' in source
    assert "/work/" not in source and "/home/" not in source and ":\\" not in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_are_saved_through_srnlib_with_the_seed(path):
    """Every figure goes through ``plots.save(..., profile, seed)``: smoke and extra-seed runs (``run --seeds N``)
    then write to ignored folders instead of replacing the committed seed-0 figures."""
    calls = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr != "savefig", f"save figures with srnlib.plots.save: {ast.unparse(node)}"
                if node.func.attr == "save" and ast.unparse(node.func.value).endswith("plots"):
                    calls.append(node)
    assert calls, "the notebook saves no figure"
    for call in calls:
        arguments = [ast.unparse(a) for a in call.args] + [f"{k.arg}={ast.unparse(k.value)}" for k in call.keywords]
        assert arguments[2:] in (["cfg.profile", "seed"], ["profile=cfg.profile", "seed=seed"]), ast.unparse(call)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_is_at_most_15_lines(path):
    """Longer code belongs in srnlib, where it is tested; a lesson's cells stay short enough to read."""
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        lines = len(cell.source.splitlines()) if cell.cell_type == "code" else 0
        assert lines <= 15, f"cell {index} has {lines} lines of code: move the rest into srnlib"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path):
    """papermill's own parser (``papermill --help-notebook``, and the runner's ``-p``) sees every parameter with its
    default: it skips a line it cannot parse (an apostrophe in a comment did it) and then only warns that a parameter
    passed on the command line is unknown."""
    import papermill

    notebook = nbformat.read(path, as_version=4)
    source = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])).source
    names = {statement.targets[0].id for statement in ast.parse(source).body}
    assert set(papermill.inspect_notebook(str(path))) == names

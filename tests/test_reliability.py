"""Issue 14's hostile-user findings, each as a test that failed on the code before the fix.

Checkpoints (format, settings hash, missing keys, a model or optimizer that does not fit) are tested in
tests/test_train.py and shipped checkpoints in tests/test_shipped.py; the rest is here.
"""
import math

import numpy as np
import pytest
import torch

from srnlib import FSPool, GraphEncoder, GraphRefiner, SetEncoder, SetRefiner, paths, profiles
from srnlib.circles import data as circles_data
from srnlib.circles import models as circles_models
from srnlib import clutrr
from srnlib.sortofclevr import data as soc_data


def refiner(**kwargs):
    torch.manual_seed(0)
    return SetRefiner(SetEncoder(3, 8, hidden=16), **{"steps": 1, "lr": 0.1, **kwargs})


# ------------------------------------------------------------------------------- the inner loop never returns NaN
@pytest.mark.parametrize("name, value", [
    ("lr", float("inf")), ("lr", float("nan")), ("lr", True), ("lr", "0.1"),
    ("momentum", float("nan")), ("momentum", float("inf")), ("momentum", True),
    ("grad_clip", float("nan")), ("grad_clip", float("inf")), ("grad_clip", True),
])
def test_refiners_reject_non_finite_or_non_numeric_settings_at_construction(name, value):
    for build in (lambda **kw: refiner(**kw), lambda **kw: GraphRefiner(GraphEncoder(3, 8, hidden=8), 1, **{
            "lr": 0.1, **kw})):
        with pytest.raises((ValueError, TypeError), match=name):
            build(**{name: value})


def test_a_step_that_makes_the_set_non_finite_is_an_error_naming_the_step():
    S0, z = torch.randn(2, 4, 3), 100 * torch.randn(2, 8)
    huge = refiner(lr=1e300, steps=1)  # finite lr, but the step overflows float32: S_1 = inf
    for mode in (huge.train, huge.eval):
        mode()
        with pytest.raises(ValueError, match=r"inner step 0 of 1 .*lower lr or set grad_clip"):
            huge(S0, z)
    graph = GraphRefiner(GraphEncoder(3, 8, hidden=8), 2, lr=1e300).eval()
    with pytest.raises(ValueError, match="inner step 0 of 2"):
        graph(S0, z)
    fine = refiner(lr=0.1, steps=3).eval()
    assert torch.isfinite(fine(S0, z)).all()


# ------------------------------------------------------------------------------------------------ profiles.get
def test_profiles_get_returns_a_deep_copy():
    first = profiles.get("cswm", "smoke")
    digest = profiles.settings_hash(first)
    first["games"].append("breakout")
    first["objects"][0] = 99
    again = profiles.get("cswm", "smoke")
    assert again["games"] == ["shapes"] and again["objects"] == [5]
    assert profiles.settings_hash(again) == digest


@pytest.mark.parametrize("args, match", [((["circles"], "smoke"), "experiment"), (("circles", 3), "profile"),
                                         ((None, "smoke"), "experiment")])
def test_profiles_get_names_a_non_string_argument(args, match):
    with pytest.raises(TypeError, match=match):
        profiles.get(*args)


# ------------------------------------------------------------------------------------------ one integer check
def test_the_shared_integer_check_takes_numpy_integers_and_rejects_bools():
    from srnlib._checks import check_int, check_number

    assert check_int(np.int64(5), "n") == 5 and type(check_int(np.int64(5), "n")) is int
    assert check_int(np.uint8(3), "n", 1) == 3
    for bad in (True, np.bool_(True), 3.0, "3", None):
        with pytest.raises(TypeError, match="n must be an int"):
            check_int(bad, "n")
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        check_int(0, "n", 1)
    assert check_number(np.float32(0.5), "lr") == 0.5
    with pytest.raises(ValueError, match="finite"):
        check_number(float("nan"), "lr")


def test_datasets_take_numpy_integers(isolated_home):
    circles = circles_data.CirclesDataset(np.int64(5), seed=np.int64(1), max_circles=np.int64(3))
    assert len(circles) == 5 and circles.counts.max() <= 3
    assert len(circles_data.CirclesDataset(np.int64(5), seed=np.int64(1), max_circles=np.int64(3))) == 5  # cached
    soc = soc_data.SortOfClevrDataset(np.int64(3), seed=np.int64(0), questions_per_image=np.int64(2))
    assert len(soc) == 6
    assert paths.figures_dir("quick", seed=np.int64(2)) == isolated_home / "figures" / "seed2"


@pytest.mark.parametrize("build", [
    lambda: SetEncoder(True, 4), lambda: SetEncoder(3, 4, hidden=True), lambda: FSPool(True),
    lambda: GraphEncoder(3, True), lambda: SetRefiner(SetEncoder(3, 4), steps=True, lr=0.1),
    lambda: circles_models.SetGenerator(True, 10), lambda: circles_models.SetDecoder(10, (8, True, 4)),
    lambda: paths.figures_dir("quick", seed=True), lambda: circles_data.CirclesDataset(True),
    lambda: clutrr.generate(True),
])
def test_a_bool_is_not_taken_as_an_int(build):
    with pytest.raises(TypeError, match="must be an int"):
        build()


def test_modules_take_numpy_integers():
    encoder = SetEncoder(np.int64(3), np.int64(4), hidden=np.int64(8))
    assert encoder(torch.randn(2, 5, 3)).shape == (2, 4) and type(encoder.in_dim) is int
    assert FSPool(np.int32(4))(torch.randn(2, 5, 4)).shape == (2, 4)
    assert len(clutrr.generate(np.int64(2), k=np.int64(2), seed=np.int64(0))) == 2


# ------------------------------------------------------------------------------------------ dtypes of sets
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_a_set_of_another_float_dtype_is_rejected_with_our_message(dtype):
    encoder = SetEncoder(3, 8, hidden=16)
    with pytest.raises(TypeError, match=rf"x has dtype {dtype} but the module's weights are torch.float32; cast"):
        encoder(torch.randn(2, 4, 3, dtype=dtype))
    with pytest.raises(TypeError, match="S0 has dtype"):
        refiner()(torch.randn(2, 4, 3, dtype=dtype), torch.randn(2, 8))
    with pytest.raises(TypeError, match="z must have the initial set's dtype"):
        refiner()(torch.randn(2, 4, 3), torch.randn(2, 8, dtype=dtype))
    assert encoder.to(dtype)(torch.randn(2, 4, 3, dtype=dtype)).dtype == dtype  # cast the module: it works


def test_integer_edges_are_rejected_clearly():
    graph = GraphRefiner(GraphEncoder(3, 8, hidden=8), 2, lr=0.1)
    nodes, z = torch.randn(2, 4, 3), torch.randn(2, 8)
    with pytest.raises(TypeError, match=r"edges0 must be a floating-point tensor .* got dtype torch.int64"):
        graph(nodes, z, edges0=torch.ones(2, 4, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="edges must be a floating-point tensor"):
        GraphEncoder(3, 8, hidden=8)(nodes, torch.ones(2, 4, 4, dtype=torch.long))
    nodes_out, edges_out = graph(nodes, z, edges0=torch.ones(2, 4, 4))
    assert edges_out.dtype == torch.float32


# ------------------------------------------------------------------------------------------ CLUTRR CSV loader
def write_csv(tmp_path, rows, name="stories.csv"):
    path = tmp_path / name
    path.write_text("story,query,target\n" + "".join(rows), encoding="utf-8")
    return path


GOOD = "\"[Ann] went shopping with her husband [Bob].\",\"('Ann', 'Bob')\",husband\n"


@pytest.mark.parametrize("row, match", [
    ("\"[Ann] met [Bob].\",\"('Ann', 'Zed')\",husband\n", r"query names \['Zed'\] do not occur in the story"),
    ("\"  \",\"('Ann', 'Bob')\",husband\n", "the story is empty"),
    ("\"[Ann] met [Bob].\",\"{[]: 1}\",husband\n", "query must look like"),
    ("\"[Ann] met [Bob].\",\"('Ann', 'Bob')\",\n", "target relation is empty"),
    ("\"[Ann] met [Bob].\"\n", "fewer fields than the header"),
])
def test_the_csv_loader_rejects_bad_rows_naming_file_and_line(tmp_path, row, match):
    path = write_csv(tmp_path, [GOOD, GOOD, row])
    with pytest.raises(ValueError, match=rf"stories\.csv line 4: .*{match}"):
        clutrr.load_csv(path)
    assert len(clutrr.load_csv(write_csv(tmp_path, [GOOD, GOOD], "good.csv"))) == 2


def test_the_csv_loader_names_file_and_line_for_long_fields_and_bad_bytes(tmp_path):
    long_field = write_csv(tmp_path, [GOOD, "\"" + "x" * 200_000 + "\",\"('Ann', 'Bob')\",husband\n"])
    with pytest.raises(ValueError, match=r"stories\.csv line 3: malformed CSV \(field larger than field limit"):
        clutrr.load_csv(long_field)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(("story,query,target\n" + GOOD * 3 + "\"[Zoë] met [Bob].\",\"('Zoë', 'Bob')\",friend\n")
                       .encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.csv line 5: not UTF-8 text"):
        clutrr.load_csv(latin1)
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ValueError, match=r"folder\.csv is a directory"):
        clutrr.load_csv(tmp_path / "folder.csv")


def test_a_query_name_found_only_in_the_plain_story_text_is_accepted(tmp_path):
    path = write_csv(tmp_path, ["\"Ann went out with her husband Bob.\",\"('Ann', 'Bob')\",husband\n"])
    assert clutrr.load_csv(path)[0].query == ("Ann", "Bob")
    with pytest.raises(ValueError, match="do not occur"):  # "Bo" is in "Bob" but is not a name there
        clutrr.load_csv(write_csv(tmp_path, ["\"Ann went out with Bob.\",\"('Ann', 'Bo')\",husband\n"], "b.csv"))


# ------------------------------------------------------------------------------- a directory where a cache goes
def test_a_directory_where_a_cache_file_should_be_is_named(isolated_home):
    circles_data.cache_path(4, 0, 0, 10).mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match=r"circles cache .* is a directory, not a file; remove or rename"):
        circles_data.CirclesDataset(4)
    soc_data.cache_path(3, 0, 2).mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match="is a directory, not a file"):
        soc_data.SortOfClevrDataset(3, questions_per_image=2)
    clutrr.stories.cache_path(3, k=(2,), seed=0).mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match=r"CLUTRR cache .* is a directory, not a file"):
        clutrr.cached_stories(3, k=(2,), seed=0)
    assert not math.isnan(len(circles_data.CirclesDataset(4, seed=1)))  # other caches still work


# ------------------------------------------------------------------------------- no pickle ever runs on load
class _Payload:
    """An object whose unpickling would create a file: loading must never do that."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_in_a_checkpoint_or_cache_never_runs(tmp_path):
    from torch import nn

    from srnlib import cache, train

    marker = tmp_path / "pwned"
    checkpoint = tmp_path / "m.pt"
    torch.save({"format": train.CHECKPOINT_FORMAT, "model": _Payload(marker)}, checkpoint)
    model = nn.Linear(2, 1)
    data = torch.utils.data.TensorDataset(torch.randn(8, 2), torch.randn(8, 1))
    with pytest.warns(UserWarning, match=r"m\.pt is unreadable"):
        train.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data,
                  lambda m, b: (m(b[0]) - b[1]).pow(2).mean(), epochs=1, batch_size=4, checkpoint=checkpoint)
    arrays = tmp_path / "c.npz"
    np.savez(arrays, key=np.array("{}"), checksum=np.array(""), x=np.array([_Payload(marker)], dtype=object))
    with pytest.warns(UserWarning, match="unusable"):
        assert cache.load_arrays(arrays, {}, {"x": (1,)}, "test") is None
    assert not marker.exists()


def test_every_test_the_reliability_table_names_exists():
    import ast
    import re

    page = (paths.repo_root() / "docs" / "library.md").read_text(encoding="utf-8")
    section = page[page.index("## Reliability"):]
    section = section[:section.index("\n## ", 1)]
    named = 0
    for line in section.splitlines():
        current = None
        for path, name in re.findall(r"`(tests/\w+\.py)?::(\w+)`", line):
            current = path or current
            source = (paths.repo_root() / current).read_text(encoding="utf-8")
            tests = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
            assert name in tests, f"docs/library.md's reliability table names {current}::{name}: no such test"
            named += 1
    assert named >= 10

import numpy as np
import pytest

from srnlib import cache

KEY = {"dataset": "demo", "n": 3}
SHAPES = {"values": (3, 2)}


def arrays():
    return {"values": np.arange(6, dtype=np.float32).reshape(3, 2)}


def test_a_saved_cache_loads_back_and_leaves_no_temporary_file(tmp_path):
    cache.save_arrays(tmp_path / "c.npz", KEY, arrays())
    loaded = cache.load_arrays(tmp_path / "c.npz", KEY, SHAPES, "demo")
    np.testing.assert_array_equal(loaded["values"], arrays()["values"])
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


@pytest.mark.parametrize("damage", ["truncate", "other key", "tampered", "wrong shape"])
def test_a_damaged_or_foreign_cache_is_refused_with_a_warning(tmp_path, damage):
    path = tmp_path / "c.npz"
    key, shapes = KEY, SHAPES
    if damage == "other key":
        cache.save_arrays(path, dict(KEY, n=4), arrays())
    elif damage == "tampered":
        np.savez(path, key=np.array('{"dataset": "demo", "n": 3}'), checksum=np.array(cache.checksum(arrays())),
                 values=arrays()["values"] + 1)
    else:
        cache.save_arrays(path, KEY, arrays())
        if damage == "truncate":
            path.write_bytes(path.read_bytes()[:100])
        else:
            shapes = {"values": (2, 3)}
    with pytest.warns(UserWarning, match="demo cache c.npz is unusable"):
        assert cache.load_arrays(path, key, shapes, "demo") is None


def test_missing_cache_is_just_none(tmp_path):
    assert cache.load_arrays(tmp_path / "none.npz", KEY, SHAPES, "demo") is None


def test_checksum_sees_dtype_and_shape():
    values = arrays()["values"]
    assert cache.checksum({"values": values}) != cache.checksum({"values": values.astype(np.float64)})
    assert cache.checksum({"values": values}) != cache.checksum({"values": values.reshape(2, 3)})
    assert cache.key_hash({"a": 1, "b": 2}) == cache.key_hash({"b": 2, "a": 1})


def read_checked(stored):
    if stored["checksum"] != cache.json_checksum(stored["values"]):
        raise ValueError("checksum mismatch")
    return stored["values"]


def test_a_json_cache_loads_back_through_the_callers_check_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "c.json"
    cache.save_json(path, {"key": KEY, "checksum": cache.json_checksum([1, 2]), "values": [1, 2]})
    assert cache.load_json(path, KEY, "demo", read_checked) == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
    assert cache.load_json(tmp_path / "none.json", KEY, "demo", read_checked) is None
    assert cache.key_hash(KEY) == cache.json_checksum(KEY)[:16]


@pytest.mark.parametrize("damage", ["truncate", "other key", "tampered", "not an object"])
def test_a_damaged_or_foreign_json_cache_is_refused_with_a_warning(tmp_path, damage):
    path = tmp_path / "c.json"
    stored = {"key": KEY, "checksum": cache.json_checksum([1, 2]), "values": [1, 2]}
    if damage == "other key":
        stored["key"] = dict(KEY, n=4)
    elif damage == "tampered":
        stored["values"] = [1, 3]
    cache.save_json(path, stored)
    if damage == "truncate":
        path.write_text(path.read_text()[:20])
    elif damage == "not an object":
        path.write_text("[1, 2]")
    with pytest.warns(UserWarning, match="demo cache c.json is unusable"):
        assert cache.load_json(path, KEY, "demo", read_checked) is None

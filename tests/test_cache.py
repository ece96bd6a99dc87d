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

"""scripts/circles_large_test.py: the SRN / baseline ratio and its standard error on hand-made cases."""
import importlib.util
import math
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "circles_large_test.py"


def load():
    spec = importlib.util.spec_from_file_location("circles_large_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ratio_and_its_standard_error_by_the_delta_method():
    script = load()
    ratio, error = script.ratio_with_error(40.0, 20.0, 100)
    # relative variance: 0.6 / (100 * 0.4) + 0.8 / (100 * 0.2) = 0.015 + 0.04
    assert math.isclose(ratio, 2.0) and math.isclose(error, 2.0 * math.sqrt(0.055))
    assert script.ratio_with_error(40.0, 20.0, 400)[1] == error / 2  # four times the images: half the error
    assert script.ratio_with_error(10.0, 0.0, 100) == (math.inf, math.inf)

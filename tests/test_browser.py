"""JupyterLab in headless Chromium: the interpolation slider of notebook 02 really redraws its plot.

Skipped where Chromium, chromedriver or selenium are missing; `.ci/run` installs them, so CI runs it.
"""
import os
import shutil
from pathlib import Path

import nbformat
import pytest

import browser  # tests/browser.py

ROOT = Path(__file__).resolve().parent.parent
INTERPOLATION_NOTEBOOK = ROOT / "notebooks" / "02_interpolation_and_tsne.ipynb"
pytestmark = pytest.mark.skipif(browser.available() is not None, reason=str(browser.available()))


def slider_notebook(callback_body: str):
    """A tiny notebook with one interactive slider, to check the check itself."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import ipywidgets\nimport matplotlib.pyplot as plt\n\n"
        f"def draw(position):\n{callback_body}\n    plt.plot([0, position], [0, 1])\n    plt.show()\n\n"
        "ipywidgets.interactive(draw, position=ipywidgets.IntSlider(value=0, min=0, max=10))")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def run_and_move(root: Path, name: str, description: str, timeout: float):
    env = dict(os.environ, SRN_PROFILE="smoke", TQDM_DISABLE="1")
    with browser.jupyterlab(root, env) as (base, token), browser.chromium() as driver:
        try:
            browser.run_all_cells(driver, f"{base}/lab/tree/{name}?token={token}")
            handle, before = browser.slider_output_image(driver, description, timeout)
            before, after = browser.move_slider_and_wait_for_new_image(driver, handle, before, presses=3, timeout=60)
            return before, after, browser.errors_in_widget_outputs(driver)
        finally:
            browser.save_screenshot(driver, root / "screenshot.png")


def test_the_check_sees_a_working_slider_redraw(tmp_path):
    nbformat.write(slider_notebook("    pass"), tmp_path / "demo.ipynb")
    before, after, errors = run_and_move(tmp_path, "demo.ipynb", "position", timeout=90)
    assert before != after and after.startswith("data:image/png") and errors == []


def test_the_check_fails_when_the_callback_is_broken(tmp_path):
    nbformat.write(slider_notebook("    if position > 0:\n        raise RuntimeError('broken callback')"),
                   tmp_path / "demo.ipynb")
    with pytest.raises(Exception):  # selenium's TimeoutException: the plot never changes
        run_and_move(tmp_path, "demo.ipynb", "position", timeout=90)


@pytest.mark.skipif(not INTERPOLATION_NOTEBOOK.exists(), reason="notebook 02 is not there yet")
def test_notebook_02_interpolation_slider_updates_the_responsibility_plot(tmp_path):
    shutil.copy(INTERPOLATION_NOTEBOOK, tmp_path / INTERPOLATION_NOTEBOOK.name)  # never write outputs into the repo
    before, after, errors = run_and_move(tmp_path, INTERPOLATION_NOTEBOOK.name, "position", timeout=420)
    assert before != after and errors == []

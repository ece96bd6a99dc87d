"""Drive a real JupyterLab in headless Chromium: start a server, open a notebook, run it, move a slider.

Used by tests/test_browser.py. Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package
(``.ci/run`` installs them); ``available()`` says whether they are here.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def available() -> str | None:
    """None when a browser test can run here, else the reason it can't."""
    if not (CHROMIUM and CHROMEDRIVER):
        return "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict, timeout: float = 90):
    """A JupyterLab server on localhost serving ``root``, with a random token; yields its base URL + token."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in env.items() if k != "MPLBACKEND"}  # let the kernel use its inline backend
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {root / 'jupyterlab.log'}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@contextlib.contextmanager
def chromium(window=(1400, 1000)):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={window[0]},{window[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def run_all_cells(driver, url: str, timeout: float = 180) -> None:
    """Open a notebook URL in JupyterLab and start "Run > Run All Cells" from the menu bar."""
    from selenium.common.exceptions import ElementClickInterceptedException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, timeout)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")),
               "the notebook did not open")
    wait.until(ready.presence_of_element_located(
        (By.XPATH, "//*[contains(@class,'jp-Notebook-ExecutionIndicator') and @data-status='idle']")),
        "the kernel did not start")
    menu = "//div[contains(@class,'lm-MenuBar-itemLabel') and normalize-space(text())='{}']"
    item = "//div[contains(@class,'lm-Menu-itemLabel') and normalize-space(text())='{}']"

    def started(_):  # some input prompt shows [*] or [n]: the kernel took the cells
        return any(prompt.text.strip() not in ("", "[ ]:") for prompt in
                   driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputPrompt"))

    seen_dialogs: list[str] = []
    for _ in range(4):  # a click that lands while the session is still connecting is lost: retry it
        seen_dialogs += close_dialogs(driver)
        try:
            wait.until(ready.element_to_be_clickable((By.XPATH, menu.format("Run"))), "no Run menu").click()
            wait.until(ready.element_to_be_clickable((By.XPATH, item.format("Run All Cells"))),
                       "no Run All Cells").click()
            WebDriverWait(driver, 20).until(started)
            return
        except (TimeoutException, ElementClickInterceptedException):
            continue  # a dialog got in the way or the click was lost: close what is open and try again
    raise TimeoutException(f"Run All Cells did not start the notebook; dialogs seen: {seen_dialogs or 'none'}")


def close_dialogs(driver) -> list[str]:
    """Close every open JupyterLab dialog with its default ("accept") button; return what each one said.

    JupyterLab may ask which kernel to use when a notebook opens before its session is ready; accepting keeps the
    notebook's own kernel. Their texts go into the error message when the notebook never starts.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    texts = []
    for dialog in driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog"):
        try:
            texts.append(" ".join(dialog.text.split()))
            print(f"closing a JupyterLab dialog: {texts[-1]!r}")
            buttons = dialog.find_elements(By.CSS_SELECTOR, "button.jp-mod-accept") or \
                dialog.find_elements(By.CSS_SELECTOR, "button.jp-mod-reject")
            if buttons:
                buttons[0].click()
            time.sleep(1)
        except WebDriverException:
            continue  # it closed by itself
    return texts


def slider_output_image(driver, description: str, timeout: float):
    """Wait for the slider labelled ``description``; return (slider handle, the source of the widget's output <img>),
    read in one go so that an output re-rendered in between cannot leave us holding a stale element."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def find(_):
        try:  # the output may be re-rendered while we look: a stale element means "look again"
            for widget in driver.find_elements(By.CSS_SELECTOR, ".widget-interact"):
                labels = [e.text.strip() for e in widget.find_elements(By.CSS_SELECTOR, ".widget-label")]
                handles = widget.find_elements(By.CSS_SELECTOR, ".noUi-handle, .ui-slider-handle")
                images = widget.find_elements(By.CSS_SELECTOR, ".widget-output img")
                if description in labels and handles and images:
                    return handles[0], images[0].get_attribute("src")
        except StaleElementReferenceException:
            return False
        return False

    return WebDriverWait(driver, timeout).until(find, f"no slider '{description}' with a plot appeared")


def move_slider_and_wait_for_new_image(driver, handle, before: str, presses: int, timeout: float) -> tuple[str, str]:
    """Press the right arrow on the slider ``presses`` times; return (image before, image after) sources, where
    ``before`` is the plot's source when the slider was found (``slider_output_image``)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    handle.click()
    for _ in range(presses):
        handle.send_keys(Keys.ARROW_RIGHT)

    def changed(_):
        try:
            images = driver.find_elements("css selector", ".widget-interact .widget-output img")
            sources = [img.get_attribute("src") for img in images]
        except StaleElementReferenceException:
            return False
        return next((src for src in sources if src and src != before), False)

    return before, WebDriverWait(driver, timeout).until(changed, "the plot did not change after moving the slider")


def errors_in_widget_outputs(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(
        By.CSS_SELECTOR, ".widget-output [data-mime-type='application/vnd.jupyter.stderr']") if e.text.strip()]


def save_screenshot(driver, path: Path) -> None:
    with contextlib.suppress(Exception):
        driver.save_screenshot(str(path))
        os.chmod(path, 0o644)

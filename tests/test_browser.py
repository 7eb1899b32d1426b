"""The course in a real browser: JupyterLab in headless Chromium runs notebook 00 and a training notebook
through its own "Run All Cells" menu, and what a learner sees works: no cell fails, sliders are widgets
(not their text), animations answer their buttons, tqdm progress bars are widgets.

Needs Debian's ``chromium`` and ``playwright`` from PyPI (``.ci/run`` installs both; the test never
downloads a browser). Without them it is skipped, and says why. On failure, screenshots are saved in
``$VIDGEN_SCREENSHOTS`` (default: the test's temporary folder) and their paths printed.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TOKEN = "vidgen-browser-test"
# Chromium on a machine without internet: no background connections, no sandbox (CI runs as root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="no Chromium or no playwright here: `apt-get install chromium` and `pip install playwright` "
           "(as .ci/run does) run the course in a real browser")

# What a panel shows, read in the page: the active notebook's prompts, failures and widgets.
PANEL_STATE = """() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
    return {
        prompts: [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim()),
        errors: [...panel.querySelectorAll("[data-mime-type='application/vnd.jupyter.stderr']")]
            .map(e => e.innerText.slice(0, 300)),
        sliders: panel.querySelectorAll('.widget-slider').length,
        progress_bars: panel.querySelectorAll('.widget-hprogress').length,
        widgets_as_text: outputs.filter(e => /(Slider|HBox|VBox|interactive)\\(/.test(e.innerText)).length,
        widget_failures: outputs.filter(e => /Error displaying widget|Loading widget/.test(e.innerText))
            .length,
        animations: [...panel.querySelectorAll('.animation img')].map(img => img.getAttribute('src') || ''),
    };
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab on a free local port, serving copies of the notebooks (the UI saves what it runs)."""
    root = tmp_path_factory.mktemp("lab")
    for path in NOTEBOOKS.glob("0[05]_*.ipynb"):  # as a learner gets them to run: no outputs yet
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, root / path.name)
    shutil.copytree(NOTEBOOKS / "figures", root / "figures")
    home = tmp_path_factory.mktemp("jupyter")  # no user settings or saved workspaces
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # render every cell, not only those in view; never ask which kernel
    (settings / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none", "autoStartDefaultKernel": true}')
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "IPYTHONDIR": str(home / "ipython"), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("JupyterLab did not start within 40 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_all_in_the_ui(page, url: str, name: str, rendered: tuple[str, ...] = (),
                      timeout_s: float = 240) -> dict:
    """Open notebook ``name`` in a fresh workspace, wait for its kernel, Run > Run All Cells, and wait until
    every code cell has run (or one failed: "Run All" stops there); returns the panel's state once the
    ``rendered`` selectors have appeared (see :func:`settled`).

    A fresh JupyterLab sometimes drops the queue of a "Run All" given while the kernel's connection is
    still settling (the first cell runs, the rest stay unrun with the kernel idle): the menu is used again,
    up to three times. It never asks which kernel to use (``autoStartDefaultKernel``): accepting that
    dialog while a cell runs would replace the kernel, which interrupts the cell. Any other dialog (a
    notice) is accepted, and its text is kept in the state's ``dialogs``."""
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(NOTEBOOKS / name, as_version=4).cells)
    start_kernel(url, name)  # before the page opens: JupyterLab then joins a ready kernel, asks nothing
    page.goto(f"{url}/lab/workspaces/{name[:2]}/tree/{name}?token={TOKEN}&reset")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell", timeout=60_000)
    idle = ".jp-StatusBar-Widget :text-matches('\\| Idle$')"
    page.wait_for_selector(idle, timeout=60_000)  # the kernel is up
    deadline, attempts, stalled_since, dialogs = time.monotonic() + timeout_s, 0, None, []
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            dialogs.append(dialog.first.inner_text()[:200])
            dialog.first.locator(".jp-mod-accept").first.click()
        state = {**page.evaluate(PANEL_STATE), "dialogs": dialogs}
        ran = [p.strip("[]:").isdigit() for p in state["prompts"]]
        if attempts and len(ran) == code_cells and (state["errors"] or all(ran)):
            return settled(page, rendered, state)
        stalled = "[*]:" not in state["prompts"] and page.locator(idle).count() > 0
        stalled_since = (stalled_since or time.monotonic()) if stalled else None
        if attempts == 0 or (stalled_since and time.monotonic() - stalled_since > 5 and attempts < 3):
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            attempts, stalled_since = attempts + 1, None
        time.sleep(0.5)
    raise AssertionError(f"{name}: not every cell ran within {timeout_s:.0f} s ({attempts} x Run All): "
                         f"{state['prompts']}; dialogs: {dialogs}")


def settled(page, selectors: tuple[str, ...], state: dict, timeout_s: float = 30) -> dict:
    """The panel's state once each of ``selectors`` is in it (widget views render after their cell has
    finished, from messages of their own), or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    def missing() -> bool:
        return not all(page.locator(f"{panel} {selector}").count() for selector in selectors)

    while time.monotonic() < deadline and missing():
        time.sleep(0.5)
    return {**state, **page.evaluate(PANEL_STATE)} if selectors else state


def start_kernel(url: str, name: str) -> None:
    """Start notebook ``name``'s session and kernel through the server's REST API, so that the page joins a
    kernel that exists instead of asking which one to start."""
    session = {"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}}
    request = urllib.request.Request(f"{url}/api/sessions?token={TOKEN}", data=json.dumps(session).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60).close()


@pytest.fixture
def page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


@contextlib.contextmanager
def screenshot_on_failure(page, name: str, folder: Path) -> Iterator[None]:
    """Run a block; if it fails, save a screenshot of the page as ``folder/name.png`` and print its path."""
    try:
        yield
    except BaseException:
        folder = Path(os.environ.get("VIDGEN_SCREENSHOTS", folder))
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        print(f"screenshot of the failure: {folder / name}.png")
        raise


def failure(state: dict) -> str:
    return f"a cell failed or wrote to stderr: {state['errors']} (dialogs seen: {state['dialogs']})"


def test_notebook_00_runs_in_jupyterlab_with_live_sliders_and_animations(jupyterlab, page, tmp_path):
    with screenshot_on_failure(page, "notebook_00", tmp_path):
        state = run_all_in_the_ui(page, jupyterlab, "00_setup_and_data.ipynb",
                                  rendered=(".widget-slider", ".animation img[src]"))
        assert not state["errors"], failure(state)
        assert state["sliders"] >= 1 and state["widgets_as_text"] == 0 and state["widget_failures"] == 0
        assert state["animations"] and all(src.startswith("data:image/png") for src in state["animations"])
        first = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .animation").first
        before = first.locator("img").get_attribute("src")
        first.locator("button[title='Next frame']").click()
        assert first.locator("img").get_attribute("src") != before, "the animation's buttons do nothing"


def test_a_training_notebook_shows_progress_bars_and_sliders_as_widgets(jupyterlab, page, tmp_path):
    with screenshot_on_failure(page, "notebook_05", tmp_path):
        state = run_all_in_the_ui(page, jupyterlab, "05_vae_math.ipynb",
                                  rendered=(".widget-slider", ".widget-hprogress"))
        assert not state["errors"], failure(state)
        assert state["progress_bars"] >= 1, "tqdm's progress bar is not a widget"
        assert state["sliders"] >= 1 and state["widgets_as_text"] == 0 and state["widget_failures"] == 0

"""Browser fixtures: a Jupyter server started for the tests, and Debian's Chromium driven by Playwright.

The front end is JupyterLab (ipywidgets 8) where jupyterlab is installed, else the classic notebook
(notebook<7, ipywidgets 7: the Colab-shaped env); ALIGNKIT_BROWSER_FRONTEND=lab|classic chooses.
When CI asks for the browser ($CI, or ALIGNKIT_BROWSER_TESTS=1) a missing Chromium or Playwright fails
the tests; elsewhere they skip with a one-line reason. Screenshots go to artifacts/browser/<front end>/.
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from alignkit.infra.runtime import in_ci

collect_ignore_glob = ["*.ipynb"]  # the test notebook runs in the browser, not under nbval

HERE = Path(__file__).parent
REPO = HERE.parent.parent
NOTEBOOK = HERE / "widgets_in_browser.ipynb"
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Scrubbed from the server's environment: under CI they would turn every widget and plot static.
_SCRUB = ("CI", "ALIGNKIT_PLOTS", "ALIGNKIT_QUIZ", "ALIGNKIT_HOME", "ALIGNKIT_LEARNER", "JPY_SESSION_NAME")


def browser_required() -> bool:
    return in_ci() or os.environ.get("ALIGNKIT_BROWSER_TESTS", "").strip().lower() in ("1", "true", "yes", "on")


def chromium_path() -> str | None:
    explicit = os.environ.get("ALIGNKIT_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.access(p, os.X_OK)), None)


def frontend() -> str:
    chosen = os.environ.get("ALIGNKIT_BROWSER_FRONTEND", "").strip().lower()
    if chosen in ("lab", "classic"):
        return chosen
    return "lab" if importlib.util.find_spec("jupyterlab") else "classic"


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install -e '.[browser]')"
    if chromium_path() is None:
        return "no Chromium at /usr/bin/chromium (apt-get install chromium, or set ALIGNKIT_CHROMIUM)"
    server = "jupyterlab" if frontend() == "lab" else "notebook"
    if importlib.util.find_spec(server) is None:
        return f"{server} is not installed"
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    reason = _missing()
    if reason is None:
        return
    if browser_required():
        pytest.fail(f"browser tests are required here ($CI or ALIGNKIT_BROWSER_TESTS=1) but {reason}", pytrace=False)
    pytest.skip(f"browser tests need a browser: {reason}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


class Server:
    def __init__(self, root: Path, kind: str):
        self.root, self.kind = root, kind
        self.home = root / "home"
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.log_path = root / "server.log"
        self.process: subprocess.Popen | None = None

    def notebook_url(self, name: str) -> str:
        prefix = "lab/tree" if self.kind == "lab" else "notebooks"
        return f"http://127.0.0.1:{self.port}/{prefix}/{name}?token={self.token}"

    def start(self) -> None:
        jupyter = self.root / "jupyter"
        env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        env.update(ALIGNKIT_HOME=str(self.home), ALIGNKIT_QUIZZES=str(REPO / "quizzes"), PYTHONUNBUFFERED="1",
                   JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_DATA_DIR=str(jupyter / "data"),
                   JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"), IPYTHONDIR=str(jupyter / "ipython"))
        common = ["--no-browser", "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
            common.append("--allow-root")
        if self.kind == "lab":
            settings = jupyter / "lab-user-settings"
            # Windowing off: JupyterLab 4.2+ otherwise virtualises off-screen cells; no news or update pop-ups.
            _write_json(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                        {"windowingMode": "none"})
            _write_json(settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
                        {"fetchNews": "false", "checkForUpdates": False})
            args = [sys.executable, "-m", "jupyterlab", *common, f"--IdentityProvider.token={self.token}",
                    f"--ServerApp.root_dir={self.root}", f"--LabApp.user_settings_dir={settings}",
                    f"--LabApp.workspaces_dir={jupyter / 'workspaces'}",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
                    "--expose-app-in-browser"]
        else:
            args = [sys.executable, "-m", "notebook", *common, f"--NotebookApp.token={self.token}",
                    f"--NotebookApp.notebook_dir={self.root}", "--NotebookApp.show_banner=False"]  # no Notebook-7 pop-up
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(args, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Jupyter server exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the Jupyter server did not answer within 120 s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


@pytest.fixture(scope="session")
def jupyter_server(browser_ready, tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter-root")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    server = Server(root, frontend())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(browser_ready):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = ARTIFACTS / frontend()
    folder.mkdir(parents=True, exist_ok=True)
    return folder

"""Fixtures of the web console's browser tests: the whole stack against the simulated gym
(`gymcall/examples/console_stack.rs`) and headless Chromium driven through chromedriver.

Chromium runs with a fresh profile and without anything that reaches the network on its own
(the test machines have no network). Artifacts (screenshots, the stack's log) go to
`target/browser-artifacts/`.
"""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "target" / "browser-artifacts"
STACK_BINARY = ROOT / "target" / "debug" / "examples" / "console_stack"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,1400",
    "--autoplay-policy=no-user-gesture-required",
]


def _find(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def stack(artifacts):
    """The running stack: {"base_url", "api_token", "persona_numbers", "hang_up_number"}."""
    subprocess.run(
        ["cargo", "build", "--quiet", "-p", "gymcall", "--example", "console_stack"],
        cwd=ROOT,
        check=True,
    )
    out_dir = Path(tempfile.mkdtemp(prefix="console-stack-"))
    log = open(artifacts / "console-stack.log", "wb")
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    process = subprocess.Popen(
        [str(STACK_BINARY), str(out_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
    )
    ready = {}

    def read_first_line():
        line = process.stdout.readline()
        if line:
            ready.update(json.loads(line))

    reader = threading.Thread(target=read_first_line, daemon=True)
    reader.start()
    reader.join(timeout=180)
    if not ready:
        process.kill()
        raise RuntimeError(f"console_stack did not start; see {artifacts / 'console-stack.log'}")
    try:
        yield ready
    finally:
        # closing stdin stops it gracefully
        process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(out_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def driver(artifacts):
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    chromedriver = _find("chromedriver")
    if not chromium or not chromedriver:
        pytest.fail("chromium and chromium-driver are needed (apt install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download anything
    browser = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(condition, timeout_s, interval_s=0.25, message="condition"):
    """Polls `condition` until it returns something true; returns it, or fails after the timeout."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as error:  # the page may be between two states
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {message} (last: {last!r})")

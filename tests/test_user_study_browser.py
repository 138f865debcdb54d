"""The study page in a real headless browser (Debian's chromium + chromedriver, driven by selenium).

A tiny study is built, served from a local HTTP server on 127.0.0.1 and clicked through, always choosing the
side that holds scheme A (read from the buttons' data-scheme); the exported answers are then analysed. The page
is also opened from file://. Skips when chromium, chromedriver or selenium are missing
(``apt-get install chromium chromium-driver``; ``pip install selenium``).
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ota.study.analysis import analyse, wilson_interval
from ota.study.kit import StudyConfig, build_study

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1000,800")
LABELS = ("perceptual-jscc", "bpg")
TIMEOUT_S = 10.0

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
for _binary in (CHROMIUM, CHROMEDRIVER):
    if not _binary.is_file():
        pytest.skip(f"{_binary} is missing (apt-get install chromium chromium-driver)", allow_module_level=True)


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """Three 80x96 noise images per scheme (B is A's negative), two 64x64 patches each: six trials."""
    root = tmp_path_factory.mktemp("browser")
    rng = np.random.default_rng(5)
    for role in ("a", "b"):
        (root / role).mkdir()
    for i in range(3):
        image = rng.integers(0, 256, size=(80, 96, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "a" / f"img{i}.png")
        Image.fromarray(255 - image).save(root / "b" / f"img{i}.png")
    config = StudyConfig(label_a=LABELS[0], label_b=LABELS[1], patches_per_image=2, patch=64, seed=11)
    return build_study(root / "a", root / "b", root / "study", config), root / "study"


@pytest.fixture(scope="module")
def server_url(study_dir: tuple[dict, Path]) -> Iterator[str]:
    """The study folder served by http.server on 127.0.0.1, on a free port, from a thread."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output clean: no line per request."""

    handler = functools.partial(QuietHandler, directory=str(study_dir[1]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tmp_path_factory.mktemp("chromium-profile")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(TIMEOUT_S)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: object, script: str, expected: object) -> None:
    """Poll a JS expression until it returns ``expected``; fail with what it returned after TIMEOUT_S."""
    deadline = time.monotonic() + TIMEOUT_S
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script};")
        if value == expected:
            return
        time.sleep(0.01)
    raise AssertionError(f"{script} is {value!r} after {TIMEOUT_S} s, expected {expected!r}")


def test_page_is_clicked_through_and_answers_are_analysed(browser: object, server_url: str,
                                                         study_dir: tuple[dict, Path], tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    study, _ = study_dir
    browser.get(server_url)
    assert browser.find_element(By.ID, "trial-count").text == "6"
    browser.find_element(By.ID, "participant").send_keys("tester-1")
    browser.find_element(By.ID, "start").click()
    chosen_sides = []
    for index, trial in enumerate(study["trials"]):
        wait_for(browser, "document.body.dataset.state", "trial")
        assert browser.execute_script("return document.getElementById('trial').dataset.trial;") == str(index)
        assert browser.find_element(By.ID, "progress-text").text == f"Pair {index + 1} of 6"
        sides = {side: browser.find_element(By.ID, f"choice-{side}") for side in ("left", "right")}
        schemes = {side: button.get_attribute("data-scheme") for side, button in sides.items()}
        assert schemes == {"left": trial["left_scheme"], "right": trial["right_scheme"]}
        side = "left" if schemes["left"] == LABELS[0] else "right"
        chosen_sides.append(side)
        image = browser.find_element(By.ID, f"img-{side}")
        assert image.get_attribute("src").endswith(trial[f"{side}_file"])
        assert browser.execute_script("return arguments[0].naturalWidth;", image) == 64
        if index % 2:  # half the answers with the arrow keys, half with the mouse
            ActionChains(browser).send_keys(Keys.ARROW_LEFT if side == "left" else Keys.ARROW_RIGHT).perform()
        else:
            sides[side].click()
    assert set(chosen_sides) == {"left", "right"}  # scheme A was shown on both sides
    wait_for(browser, "document.body.dataset.state", "done")

    results = browser.execute_script("return window.studyResults;")
    assert json.loads(browser.find_element(By.ID, "results-json").text) == results
    link = browser.find_element(By.ID, "download")
    assert link.get_attribute("href").startswith("blob:")
    assert link.get_attribute("download") == f"answers-{study['study_id']}-tester-1.json"
    assert results["study_id"] == study["study_id"] and results["participant"] == "tester-1"
    assert "Chrome" in results["user_agent"] and results["started_at"] <= results["finished_at"]
    assert [t["trial"] for t in results["trials"]] == list(range(6))
    for answer, trial in zip(results["trials"], study["trials"], strict=True):
        assert answer["patch_id"] == trial["patch_id"] and answer["choice_scheme"] == LABELS[0]
        assert (answer["left_scheme"], answer["right_scheme"]) == (trial["left_scheme"], trial["right_scheme"])
        assert 0 < answer["response_ms"] < 1000 * TIMEOUT_S

    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(results))
    result = analyse(study_dir[1] / "study.json", [answers], tmp_path / "results")
    assert result["overall"]["preference_a_percent"] == 100 and result["overall"]["trials"] == 6
    z2 = 1.959963984540054**2
    np.testing.assert_allclose(result["overall"]["ci_percent"], [100 * 6 / (6 + z2), 100.0])
    np.testing.assert_allclose(result["overall"]["ci_percent"], [100 * v for v in wilson_interval(6, 6)])
    assert result["overall"]["binomial_p_value"] == pytest.approx(2 / 2**6)


def test_page_works_from_file_url(browser: object, study_dir: tuple[dict, Path]) -> None:
    from selenium.webdriver.common.by import By

    study, folder = study_dir
    browser.get((folder / "index.html").as_uri())
    browser.find_element(By.ID, "participant").send_keys("\n")  # Enter in the id field starts the study
    wait_for(browser, "document.body.dataset.state", "trial")
    sizes = browser.execute_script(
        "return ['img-left', 'img-right'].map(id => document.getElementById(id).naturalWidth);")
    assert sizes == [64, 64]
    browser.find_element(By.ID, "choice-right").click()
    wait_for(browser, "document.getElementById('trial').dataset.trial", "1")
    assert browser.execute_script("return window.studyResults;") is None

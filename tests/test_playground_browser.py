"""playground.py in a real browser: headless Chromium driven by Selenium, as a
learner uses the page. It starts `python playground.py` on a free port, draws
a stroke, moves the noise slider, reads both denoisers' outputs, moves the
Upsampling tab's kernel and stride, uploads a file that is not a picture, and
opens a second tab. Then two more runs finish while the page is open: they
join the list, the test ticks them and sees four models' outputs, and opens
the Runs tab. Screenshots go to $PLAYGROUND_SCREENSHOTS (else the test's
temporary folder); $PLAYGROUND_MODELS_DIR serves the models in that folder
(the default runs and at least two others) instead of the ones trained here
in seconds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import learner_env, run_in_process, script_command
from playground_models import QUICK_TRAINING, free_port, train_playground_models

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# A real browser against the page, served by a new process.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not CHROMIUM and not CHROMEDRIVER,
    reason="no chromium or chromedriver: apt-get install chromium chromium-driver (.ci/run does)")]
WAIT_S = 60
DB = re.compile(r"(-?[\d.]+) dB")


GIVEN_MODELS = os.environ.get("PLAYGROUND_MODELS_DIR")
DEFAULT_RUNS = ("denoise_transpose_mnist", "denoise_upsampling_notmnist")


@pytest.fixture(scope="module")
def strokes(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("strokes")


@pytest.fixture(scope="module")
def models(tmp_path_factory, strokes) -> Path:
    if GIVEN_MODELS:
        return Path(GIVEN_MODELS)
    return train_playground_models(tmp_path_factory.mktemp("outputs"), strokes)


@pytest.fixture(scope="module")
def later_runs(models, strokes, tmp_path_factory) -> list[Path]:
    """Two runs that each change one constant, trained in seconds elsewhere: the test moves
    them in while the page is open. None with $PLAYGROUND_MODELS_DIR (its runs are there)."""
    if GIVEN_MODELS:
        return []
    later = tmp_path_factory.mktemp("later")
    folders = []
    for script, flag, value in (("denoise_transpose_mnist", "--kernel-size", "4"),
                                ("denoise_upsampling_notmnist", "--interpolation", "bilinear")):
        folder = later / script / f"{flag[2:].replace('-', '_')}-{value}"
        run_in_process(f"{script}.py", "--data-dir", str(strokes), "--output-dir", str(folder),
                       *QUICK_TRAINING, flag, value)
        folders.append(folder)
    return folders


@pytest.fixture(scope="module")
def page_url(models):
    """`python playground.py --port N --models-dir MODELS`, until the module ends."""
    port = free_port()
    command = script_command("playground.py", "--port", str(port), "--models-dir", str(models))
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=learner_env())
    try:
        printed = []
        for line in server.stdout:  # The address it prints is the one to open.
            printed.append(line)
            found = re.search(r"Running on local URL:\s+(http://\S+)", line)
            if found:
                break
        assert found, "".join(printed)
        assert found.group(1).rstrip("/") == f"http://127.0.0.1:{port}"
        yield found.group(1)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and CHROMEDRIVER, "install both chromium and chromium-driver, at the same version"
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1500"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PLAYGROUND_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_for(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(lambda d: condition(), message=what)


def text_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def picture(driver, key: str) -> tuple[str, tuple[int, int] | None]:
    """The label of picture out-<key> and its image's size in pixels (None before there is one)."""
    from selenium.webdriver.common.by import By

    block = driver.find_element(By.ID, f"out-{key}")
    label = block.find_element(By.CSS_SELECTOR, "label").text
    images = block.find_elements(By.CSS_SELECTOR, "img")
    loaded = [(int(i.get_attribute("naturalWidth")), int(i.get_attribute("naturalHeight"))) for i in images
              if i.get_attribute("complete") == "true" and int(i.get_attribute("naturalWidth") or 0)]
    return label, (loaded[0] if loaded else None)


def psnr_in(label: str) -> float | None:
    found = DB.search(label)
    return float(found.group(1)) if found else None


def draw_a_seven(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_elements(By.CSS_SELECTOR, "#sketch canvas")[-1]
    (ActionChains(driver).move_to_element_with_offset(canvas, -40, -60).click_and_hold()
     .move_by_offset(80, 0).move_by_offset(-50, 120).release().perform())


def set_slider(driver, element_id: str, value: float) -> None:
    """Type a value into a Gradio slider's number box, as a learner may."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, f"#{element_id} input[type=number]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(f"{value:g}", Keys.TAB)


def move_slider(driver, element_id: str, steps: int) -> None:
    """Move a Gradio slider's handle with the arrow keys, one step each."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    handle = driver.find_element(By.CSS_SELECTOR, f"#{element_id} input[type=range]")
    handle.send_keys(*([Keys.ARROW_RIGHT] * steps))


def outputs_shown(driver, noisy_label_before: str | None = None):
    """Both denoisers' pictures, once every one is there (and the noisy one has changed)."""
    shown = {key: picture(driver, key) for key in ("clean", "noisy", "transpose", "upsampling")}
    ready = all(size is not None for _, size in shown.values())
    changed = noisy_label_before is None or shown["noisy"][0] != noisy_label_before
    return shown if ready and changed and psnr_in(shown["noisy"][0]) is not None else None


def test_draw_slide_explore_and_upload_in_a_real_browser(page_url, browser, screenshots, tmp_path):
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(page_url)
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#sketch canvas"), "the Sketchpad")

    # A stroke on the canvas: every picture comes back, 28x28, and each denoiser beats the noisy input.
    draw_a_seven(driver)
    shown = wait_for(driver, lambda: outputs_shown(driver), "the denoisers' outputs after drawing")
    noisy_db = psnr_in(shown["noisy"][0])
    for key in ("clean", "noisy", "transpose", "upsampling"):
        assert shown[key][1] == (28, 28), key
    for key in ("transpose", "upsampling"):
        assert psnr_in(shown[key][0]) > noisy_db, shown[key][0]
    assert text_of(driver, "message").startswith("Denoising your drawing")

    # More noise: the pictures update with no button, the noisy one further from the clean one.
    move_slider(driver, "noise", 4)  # 0.5 -> 0.7
    shown = wait_for(driver, lambda: outputs_shown(driver, shown["noisy"][0]), "the outputs after the slider")
    assert psnr_in(shown["noisy"][0]) < noisy_db
    for key in ("transpose", "upsampling"):
        assert psnr_in(shown[key][0]) > psnr_in(shown["noisy"][0]), shown[key][0]
    driver.save_screenshot(str(screenshots / "playground_denoise.png"))

    # The Upsampling tab: kernel 3 and stride 2 make the checkerboard, kernel 4 undoes it.
    driver.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Upsampling')]").click()
    ratio = re.compile(r"interior max/min = (\S+?)\b")
    summary = lambda: text_of(driver, "overlap-summary")  # noqa: E731
    wait_for(driver, lambda: ratio.search(summary()), "the overlap explorer")
    set_slider(driver, "kernel-size", 4)
    wait_for(driver, lambda: "interior max/min = 1 " in summary(), "kernel 4's even coverage")
    set_slider(driver, "kernel-size", 3)
    set_slider(driver, "stride", 2)
    wait_for(driver, lambda: "interior max/min = 4 " in summary(), "kernel 3, stride 2's checkerboard")
    assert "Output 12x12" in summary() and "n*s = 6*2 = 12" in summary()
    driver.save_screenshot(str(screenshots / "playground_upsampling.png"))

    # A file that is not a picture: a message, the pictures on show stay, and the page still answers.
    driver.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Denoise')]").click()
    not_a_picture = tmp_path / "notes.txt"
    not_a_picture.write_text("shopping list")
    before = outputs_shown(driver)
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(not_a_picture))
    wait_for(driver, lambda: "cannot read notes.txt as an image" in text_of(driver, "message"),
             "the message for a file that is not a picture")
    assert "give a PNG or JPEG file" in text_of(driver, "message")
    assert "Traceback" not in driver.page_source
    driver.save_screenshot(str(screenshots / "playground_bad_upload.png"))
    move_slider(driver, "noise", 2)  # 0.7 -> 0.8
    after = wait_for(driver, lambda: outputs_shown(driver, before["noisy"][0]),
                     "an answer after the bad upload")
    assert psnr_in(after["noisy"][0]) < psnr_in(before["noisy"][0])

    # A second tab: its own drawing and noise, while the first keeps its pictures.
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(page_url)
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#sketch canvas"), "the second tab")
    draw_a_seven(driver)
    second = wait_for(driver, lambda: outputs_shown(driver), "the second tab's outputs")
    assert psnr_in(second["noisy"][0]) == noisy_db  # Noise 0.5, seed 0: the first tab's first picture.
    driver.close()
    driver.switch_to.window(first)
    assert picture(driver, "noisy") == after["noisy"]


def finish(run: Path, models: Path) -> None:
    """Move a finished run's folder into the models folder as a run ends: metrics.json last."""
    target = models / run.parent.name / run.name
    shutil.copytree(run, target, ignore=shutil.ignore_patterns("metrics.json"))
    shutil.copy(run / "metrics.json", target / "metrics.json")


def listed(driver) -> list[str]:
    """The models the Denoise tab offers, by their folder inside the models folder."""
    from selenium.webdriver.common.by import By

    return [box.get_attribute("name") for box in driver.find_elements(By.CSS_SELECTOR, "#model-choice input")]


def tick(driver, name: str) -> str:
    """Tick a model in the list; its label."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f"#model-choice input[name='{name}']")
    label = box.find_element(By.XPATH, "..")
    label.click()
    return label.text


def save_whole_page(driver, path: Path) -> None:
    """A screenshot of the whole page, as tall as it is."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    page, view = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.innerHeight]")
    driver.set_window_size(width, max(height, height - view + page))
    driver.save_screenshot(str(path))
    driver.set_window_size(width, height)


def test_new_runs_join_the_list_show_beside_the_defaults_and_in_the_runs_tab(page_url, browser, models,
                                                                               later_runs, screenshots):
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(page_url)
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#sketch canvas"), "the Sketchpad")
    assert listed(driver)[:2] == list(DEFAULT_RUNS)
    draw_a_seven(driver)
    shown = wait_for(driver, lambda: outputs_shown(driver), "the default runs' outputs")

    # Two runs finish while the page is open: the list shows them within seconds, no reload.
    for run in later_runs:
        finish(run, models)
    others = wait_for(driver, lambda: listed(driver)[2:] if len(listed(driver)) >= 4 else None,
                      "the runs that finished, in the list")
    if later_runs:
        assert others == [f"{run.parent.name}/{run.name}" for run in later_runs]

    # A third model: its output and PSNR appear in the next place, on the same drawing.
    label = tick(driver, others[0])
    third = wait_for(driver, lambda: picture(driver, "run-1")[1] and picture(driver, "run-1"),
                     "the third model's output")
    assert third[1] == (28, 28) and third[0].startswith(label) and psnr_in(third[0]) is not None, third
    assert picture(driver, "noisy") == shown["noisy"]  # The same noisy drawing.

    # A fourth, then more noise: all four answer the slider.
    tick(driver, others[1])
    wait_for(driver, lambda: picture(driver, "run-2")[1], "the fourth model's output")
    move_slider(driver, "noise", 4)  # 0.5 -> 0.7
    wait_for(driver, lambda: outputs_shown(driver, shown["noisy"][0]), "the outputs after the slider")
    wait_for(driver, lambda: all(psnr_in(picture(driver, key)[0]) is not None for key in ("run-1", "run-2")),
             "four models' PSNRs")
    assert text_of(driver, "scores").count(" dB") == 5  # The noisy input and four models.
    save_whole_page(driver, screenshots / "playground_four_models.png")

    # The Runs tab: a row per finished run, and runs.png.
    driver.find_element(By.XPATH, "//button[@role='tab' and contains(., 'Runs')]").click()
    rows = lambda: driver.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")  # noqa: E731
    wait_for(driver, lambda: len(rows()) >= 4, "the table of every finished run")
    table = text_of(driver, "runs-table")
    assert all(run.name in table for run in later_runs) and "Traceback" not in driver.page_source
    wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#runs-plot img"), "runs.png")
    save_whole_page(driver, screenshots / "playground_runs.png")

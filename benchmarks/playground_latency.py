"""
Title: How long one playground update takes
Description: The Denoise tab's update when the noise slider moves: fresh noise,
the trained denoisers on show, their PSNRs, and the pictures sent back.
Measured three ways on the models under --models-dir: the handler alone (in
this process); the round trip over HTTP through gradio_client (the answer,
with the pictures' addresses); and in headless Chromium, from the slider's
move to the moment every new picture has loaded and the labels show their
PSNR (what a learner waits for). Each with the two default runs, and with
four models (the page's most) when four are trained (the default runs and
the next two in the page's list). Median and spread of --updates updates
after the first (which loads the models). Also the Upsampling tab's update.

    python benchmarks/playground_latency.py        # models from outputs/ (train them first)
    python benchmarks/playground_latency.py --updates 3 --models-dir outputs   # a quick look

Prints a table and a one-line summary, writes playground_latency.json next to
this file (or to --json).
"""

import argparse
import json
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from denoise_kit import overlap, playground_app

# The noise-slider rows, as the summary names them.
SLIDER_ROWS = (("handler", "handler"), ("HTTP", "HTTP round trip"), ("Chromium", "in Chromium"))


def seven(size: int = playground_app.CANVAS_SIZE) -> np.ndarray:
    """A drawn "7", light on dark, as the Sketchpad sends it."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (size, size))
    pen = ImageDraw.Draw(canvas)
    pen.line((70, 60, 210, 60), fill=255, width=22)
    pen.line((210, 60, 120, 230), fill=255, width=22)
    return np.asarray(canvas)


def timings(update, count: int) -> tuple[float, list[float]]:
    """The first update's seconds, and each of the next `count`."""
    start = time.perf_counter()
    update(0)
    first = time.perf_counter() - start
    times = []
    for i in range(1, count + 1):
        start = time.perf_counter()
        update(i)
        times.append(time.perf_counter() - start)
    return first, times


# Moves the noise slider as a hand does (an input event), then waits until the noisy and denoised
# pictures have new images, loaded, and the noisy one's label its new PSNR (the clean one stays).
# Returns the milliseconds.
SLIDE_AND_WAIT = """
const [value, keys, done] = arguments;
const sources = () => keys.map(k => (document.querySelector(`#${k} img`) || {}).src);
const before = sources(), label = () => document.querySelector("#out-noisy label").textContent;
const labelBefore = label(), range = document.querySelector("#noise input[type=range]");
const start = performance.now();
range.value = value;
range.dispatchEvent(new Event("input", {bubbles: true}));
range.dispatchEvent(new Event("change", {bubbles: true}));
(function poll() {
  const now = sources(), images = keys.map(k => document.querySelector(`#${k} img`));
  const changed = now.every((src, i) => src && (i === 0 || src !== before[i]));
  if (changed && label() !== labelBefore && images.every(img => img.complete && img.naturalWidth)) {
    done(performance.now() - start);
  } else {
    requestAnimationFrame(poll);
  }
})();
"""


def browser_timings(url: str, count: int, models: list[str]) -> tuple[float, list[float]]:
    """Tick `models` (the page's names) in headless Chromium, draw a stroke, then move the
    noise slider count + 1 times."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1500"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.set_script_timeout(30)
        driver.get(url)
        find_canvases = lambda d: d.find_elements(By.CSS_SELECTOR, "#sketch canvas")  # noqa: E731
        canvases = WebDriverWait(driver, 60).until(find_canvases)
        for box in driver.find_elements(By.CSS_SELECTOR, "#model-choice input"):
            if box.is_selected() != (box.get_attribute("name") in models):
                box.find_element(By.XPATH, "..").click()
        canvas = canvases[-1]
        (ActionChains(driver).move_to_element_with_offset(canvas, -40, -60).click_and_hold()
         .move_by_offset(80, 0).move_by_offset(-50, 120).release().perform())
        keys = ["out-clean", "out-noisy", *places(models)]
        WebDriverWait(driver, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f"#{keys[-1]} img") and "dB" in
            d.find_element(By.CSS_SELECTOR, "#out-noisy label").text)
        values = [round(0.3 + 0.05 * (i % 9), 2) for i in range(count + 1)]  # Each differs from the last.
        values = [v if i == 0 or v != values[i - 1] else v + 0.05 for i, v in enumerate(values)]
        times = [driver.execute_async_script(SLIDE_AND_WAIT, str(v), keys) / 1000 for v in values]
        return times[0], times[1:]
    finally:
        driver.quit()


def places(models: list[str]) -> list[str]:
    """The element ids of the pictures of these models: a default run's own, the others' in turn."""
    own = {spec.script: f"out-{spec.key}" for spec in playground_app.DENOISERS}
    others = iter(f"out-run-{i}" for i in range(1, playground_app.MAX_SHOWN + 1))
    return [own[name] if name in own else next(others) for name in models]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=Path("outputs"))
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_suffix(".json"),
                        help="where to write the results")
    args = parser.parse_args()
    if args.updates < 1:
        parser.error("--updates must be at least 1")

    app = playground_app.build(args.models_dir)
    playground = app.playground
    missing = [problem for d in playground.denoisers for problem in [d.model()[1]] if problem]
    if missing:
        raise SystemExit("error: " + "; ".join(missing))
    both = [denoiser.name for denoiser in playground.denoisers]
    trained = [model.name for model in playground.models()[0] if model.model()[1] is None]
    four = trained[:playground_app.MAX_SHOWN] if len(trained) >= playground_app.MAX_SHOWN else None
    clean = playground_app.from_drawing({"composite": seven()})
    noise = lambda i: 0.3 + 0.4 * (i % 5) / 4  # noqa: E731  Five slider positions, 0.3 to 0.7.
    shows = {"both denoisers": both, "four models": four} if four else {"both denoisers": both}

    rows = {}
    for shown, names in shows.items():
        models = playground.chosen(names)
        rows[f"handler: noise slider, {shown}"] = timings(
            lambda i, models=models: playground_app.denoise(playground, clean, noise(i), 0, False, models),
            args.updates)
    rows["handler: Upsampling tab"] = timings(
        lambda i: playground_app.explore(6, 3 + i % 2, 2, "same", overlap.LAYERS[0]), args.updates)

    from gradio_client import Client, handle_file
    from PIL import Image

    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
               **playground_app.LAUNCH_OPTIONS)
    try:
        client = Client(app.local_url, verbose=False, download_files=False)
        with tempfile.TemporaryDirectory() as folder:
            drawing = Path(folder) / "seven.png"
            Image.fromarray(seven()).save(drawing)
            sketch = {"background": handle_file(drawing), "layers": [], "composite": handle_file(drawing),
                      "id": None}
            client.predict(sketch, False, 0.5, 0, api_name="/draw")
        for shown, names in shows.items():
            rows[f"HTTP round trip: noise slider, {shown}"] = timings(
                lambda i, names=names: client.predict(False, noise(i), 0, names, api_name="/settings"),
                args.updates)
        rows["HTTP round trip: Upsampling tab"] = timings(
            lambda i: client.predict(6, 3 + i % 2, 2, "same", overlap.LAYERS[0], api_name="/explore"),
            args.updates)
        if shutil.which("chromium") and shutil.which("chromedriver"):
            for shown, names in shows.items():
                rows[f"in Chromium: noise slider, {shown}"] = browser_timings(app.local_url, args.updates,
                                                                              names)
    finally:
        app.close()

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import keras

    print(f"\nOne update, {args.updates} after the first ({cpu}, Keras {keras.__version__} on "
          f"{keras.backend.backend()}, float32)")
    if not four:
        print(f"(no four-model rows: {len(trained)} trained models under {args.models_dir}; train two more "
              "runs, e.g. `python denoise_transpose_mnist.py --kernel-size 4`)")
    print(f"{'':48}{'first':>9}{'median':>9}{'min':>9}{'max':>9}")
    results = {}
    for name, (first, times) in rows.items():
        median = statistics.median(times)
        print(f"{name:48}{first * 1000:8.0f}ms{median * 1000:7.0f}ms{min(times) * 1000:7.0f}ms"
              f"{max(times) * 1000:7.0f}ms")
        results[name] = {"first_ms": first * 1000, "median_ms": median * 1000, "min_ms": min(times) * 1000,
                         "max_ms": max(times) * 1000, "updates": len(times)}
    args.json.write_text(json.dumps({"cpu": cpu, "backend": keras.backend.backend(), "four_models": four,
                                     "results": results}, indent=2) + "\n")
    def medians(shown: str) -> str:
        rows_ = [(how, results.get(f"{row}: noise slider, {shown}")) for how, row in SLIDER_ROWS]
        return f"{shown}: " + ", ".join(f"{how} {row['median_ms']:.0f} ms" for how, row in rows_ if row)

    print(f"playground latency: one noise-slider update, median of {args.updates}: "
          + "; ".join(map(medians, shows)))

if __name__ == "__main__":
    main()

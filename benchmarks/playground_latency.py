"""
Title: How long one playground update takes
Description: The Denoise tab's update when the noise slider moves: fresh noise,
both trained denoisers, both PSNRs, and the pictures sent back. Measured three
ways on the models under --models-dir: the handler alone (in this process);
the round trip over HTTP through gradio_client (the answer, with the pictures'
addresses); and in headless Chromium, from the slider's move to the moment all
four new pictures have loaded and the labels show their PSNR (what a learner
waits for). Median and spread of --updates updates after the first (which
loads the models). Also the Upsampling tab's update.

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
const [value, done] = arguments;
const keys = ["out-clean", "out-noisy", "out-transpose", "out-upsampling"];
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


def browser_timings(url: str, count: int) -> tuple[float, list[float]]:
    """Draw a stroke in headless Chromium, then move the noise slider count + 1 times."""
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
        canvas = canvases[-1]
        (ActionChains(driver).move_to_element_with_offset(canvas, -40, -60).click_and_hold()
         .move_by_offset(80, 0).move_by_offset(-50, 120).release().perform())
        WebDriverWait(driver, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#out-upsampling img") and "dB" in
            d.find_element(By.CSS_SELECTOR, "#out-noisy label").text)
        values = [round(0.3 + 0.05 * (i % 9), 2) for i in range(count + 1)]  # Each differs from the last.
        values = [v if i == 0 or v != values[i - 1] else v + 0.05 for i, v in enumerate(values)]
        times = [driver.execute_async_script(SLIDE_AND_WAIT, str(v)) / 1000 for v in values]
        return times[0], times[1:]
    finally:
        driver.quit()


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
    clean = playground_app.from_drawing({"composite": seven()})
    noise = lambda i: 0.3 + 0.4 * (i % 5) / 4  # noqa: E731  Five slider positions, 0.3 to 0.7.

    rows = {}
    rows["handler: noise slider, both denoisers"] = timings(
        lambda i: playground_app.denoise(playground, clean, noise(i), 0, False), args.updates)
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
        rows["HTTP round trip: noise slider, both denoisers"] = timings(
            lambda i: client.predict(False, noise(i), 0, api_name="/settings"), args.updates)
        rows["HTTP round trip: Upsampling tab"] = timings(
            lambda i: client.predict(6, 3 + i % 2, 2, "same", overlap.LAYERS[0], api_name="/explore"),
            args.updates)
        if shutil.which("chromium") and shutil.which("chromedriver"):
            rows["in Chromium: noise slider to its 3 new pictures"] = browser_timings(app.local_url,
                                                                                       args.updates)
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
    print(f"{'':48}{'first':>9}{'median':>9}{'min':>9}{'max':>9}")
    results = {}
    for name, (first, times) in rows.items():
        median = statistics.median(times)
        print(f"{name:48}{first * 1000:8.0f}ms{median * 1000:7.0f}ms{min(times) * 1000:7.0f}ms"
              f"{max(times) * 1000:7.0f}ms")
        results[name] = {"first_ms": first * 1000, "median_ms": median * 1000, "min_ms": min(times) * 1000,
                         "max_ms": max(times) * 1000, "updates": len(times)}
    args.json.write_text(json.dumps({"cpu": cpu, "backend": keras.backend.backend(), "results": results},
                                    indent=2) + "\n")
    slider = {how: results[name]["median_ms"] for how, name in (
        ("handler", "handler: noise slider, both denoisers"),
        ("HTTP", "HTTP round trip: noise slider, both denoisers"),
        ("Chromium", "in Chromium: noise slider to its 3 new pictures")) if name in results}
    print(f"playground latency: one noise-slider update, both denoisers, median of {args.updates}: "
          + ", ".join(f"{how} {ms:.0f} ms" for how, ms in slider.items()))


if __name__ == "__main__":
    main()

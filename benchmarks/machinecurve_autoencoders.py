"""
Title: MachineCurve's two MNIST autoencoders, retrained side by side
Description: MachineCurve's "UpSampling2D: how to use upsampling with Keras?"
(2019-12-11) reports a loss of about 0.11 for its UpSampling2D autoencoder
and compares it with the 0.05 of the Conv2DTranspose autoencoder of its
"Conv2DTranspose: using 2D transposed convolutions with Keras" (2019-12-10).
This script rebuilds both models layer for layer and trains them the way the
posts do (MNIST in = MNIST out, Adam, binary cross-entropy, validation_split
0.2, 25 epochs), with several seeds: both at the UpSampling2D post's batch 25,
and the Conv2DTranspose model also at its own post's batch 1000. It reports the
last epoch's training loss (the posts' "loss"), the last validation loss, the
binary cross-entropy on held-out test digits, the per-epoch validation curve,
and optionally one run per model with as many optimizer steps as the posts had
on the full 60,000-image MNIST.

    DENOISE_DATA_DIR=../shared/data python benchmarks/machinecurve_autoencoders.py
    DENOISE_DATA_DIR=../shared/data python benchmarks/machinecurve_autoencoders.py \\
        --transpose-seeds 42 43 --matched-steps upsampling
    DENOISE_DATA_DIR=../shared/data python benchmarks/machinecurve_autoencoders.py \\
        --seeds 42 --own-batch-seeds --epochs 1 --limit 2000 --json /tmp/quick.json

The first trains each model at batch 25 with seeds 42, 43 and 44 and the
Conv2DTranspose model at batch 1000 with seed 42: about an hour on two busy
CPU cores, 3 minutes a run for the UpSampling2D model, 14 for the
Conv2DTranspose one. The second is what docs/results.md reports: two
Conv2DTranspose seeds at batch 25, plus the UpSampling2D model once for the
posts' 48,000 steps (188 epochs here).

Prints a table and a one-line summary. Writes machinecurve_autoencoders.json
next to this file (or to --json) after every run, so a stopped run keeps what
it finished; --resume trains only the runs that the JSON lacks.
"""

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up log lines)

import keras
import numpy as np
from keras import layers

from denoise_kit import datasets, files
from denoise_kit.hardware import cpu_model, describe_device

# %% [markdown]
# ## What the posts did
#
# Both posts train on Keras' MNIST: 60,000 training images, of which
# `validation_split=0.2` keeps the last 12,000 for validation, so each epoch
# sees 48,000 images. At batch 25 that is 1,920 optimizer steps per epoch,
# 48,000 steps in 25 epochs. The figures they quote are the training loss
# Keras prints after the last epoch.

POST_TRAIN_IMAGES = 48_000
POST_EPOCHS = 25
VALIDATION_SPLIT = 0.2
UPSAMPLING_BATCH = 25  # The UpSampling2D post's batch, used for both models here.
TRANSPOSE_OWN_BATCH = 1000  # The Conv2DTranspose post's batch.
POST_LOSS = {"upsampling": 0.11, "transpose": 0.05}  # "approximately", as the posts say.
SEEDS = (42, 43, 44)


def post_steps(batch_size, epochs=POST_EPOCHS):
    """Optimizer steps the posts took at this batch size on 48,000 images."""
    return math.ceil(POST_TRAIN_IMAGES / batch_size) * epochs


def steps_per_epoch(train_images, batch_size):
    """Steps per epoch once validation_split has taken its share."""
    fitted = train_images - int(train_images * VALIDATION_SPLIT)
    return math.ceil(fitted / batch_size)


def matched_epochs(train_images, batch_size):
    """Epochs on our (smaller) training set that give the posts' number of steps."""
    return math.ceil(post_steps(batch_size) / steps_per_epoch(train_images, batch_size))


# %% [markdown]
# ## The UpSampling2D autoencoder
#
# Eight filters everywhere, 2x2 kernels. The encoder halves 28x28 to 14x14 to
# 7x7 with max pooling, then a stride-2 convolution takes 7x7 to 4x4: the
# code is 4x4x8 = 128 numbers. The decoder doubles with *bilinear*
# UpSampling2D (no weights) and a convolution after each. One of those
# convolutions has no padding ("valid"), so it turns the 8x8 map into the
# 7x7 that the next two doublings bring back to 28x28; it and the output
# layer keep Keras' default initializer (Glorot uniform), the others use He
# uniform. 1,393 parameters.


def upsampling_autoencoder():
    """The UpSampling2D post's model (not compiled)."""
    he = {"activation": "relu", "kernel_initializer": "he_uniform", "padding": "same"}
    encoder = [
        layers.Conv2D(8, 2, **he),  # 28x28x8
        layers.MaxPooling2D(2, padding="same"),  # 14x14x8
        layers.Conv2D(8, 2, **he),  # 14x14x8
        layers.MaxPooling2D(2, padding="same"),  # 7x7x8
        layers.Conv2D(8, 2, strides=2, **he),  # 4x4x8: the code
    ]
    decoder = [
        layers.Conv2D(8, 2, **he),  # 4x4x8
        layers.UpSampling2D(2, interpolation="bilinear"),  # 8x8x8
        layers.Conv2D(8, 2, activation="relu"),  # 7x7x8 ('valid', default initializer)
        layers.UpSampling2D(2, interpolation="bilinear"),  # 14x14x8
        layers.Conv2D(8, 2, **he),  # 14x14x8
        layers.UpSampling2D(2, interpolation="bilinear"),  # 28x28x8
        layers.Conv2D(1, 2, activation="sigmoid", padding="same"),  # 28x28x1
    ]
    return keras.Sequential([keras.Input(shape=(28, 28, 1)), *encoder, *decoder], name="upsampling")


# %% [markdown]
# ## The Conv2DTranspose autoencoder
#
# Three 3x3 'valid' convolutions with 32, 16 and 8 filters shrink 28x28 by two
# pixels each (26, 24, 22); three 3x3 'valid' transposed convolutions with 8,
# 16 and 32 filters grow it back (24, 26, 28); a 3x3 'same' convolution with a
# sigmoid gives one grey value per pixel. No pooling and no strides, so its
# narrowest point is 22x22x8 = 3,872 numbers: more than the 784 pixels it
# reconstructs. (With stride 1, a transposed convolution is an ordinary
# convolution padded by two pixels on each side: it grows the map by 2, it does
# not double it.) He normal initialization except the output layer.
# 12,785 parameters.


def transpose_autoencoder():
    """The Conv2DTranspose post's model (not compiled)."""
    he = {"activation": "relu", "kernel_initializer": "he_normal"}
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, 3, **he),  # 26x26x32
            layers.Conv2D(16, 3, **he),  # 24x24x16
            layers.Conv2D(8, 3, **he),  # 22x22x8: the narrowest point
            layers.Conv2DTranspose(8, 3, **he),  # 24x24x8
            layers.Conv2DTranspose(16, 3, **he),  # 26x26x16
            layers.Conv2DTranspose(32, 3, **he),  # 28x28x32
            layers.Conv2D(1, 3, activation="sigmoid", padding="same"),  # 28x28x1
        ],
        name="transpose",
    )


BUILDERS = {"upsampling": upsampling_autoencoder, "transpose": transpose_autoencoder}
JSON_PATH = Path(__file__).with_name("machinecurve_autoencoders.json")


# %% [markdown]
# ## Training and scoring one model
#
# Seed first, then build, so each seed gives the same initial weights and the
# same shuffles. Keras' `validation_split` holds out the *last* 20% of the
# training array before shuffling. The test score is the mean binary
# cross-entropy per pixel over the held-out test digits, the same quantity as
# the loss. MNIST's pixels are grey levels, not just 0 and 1, so even a perfect
# copy has a loss above zero (about 0.058 on these digits): the report prints
# that floor too.


def binary_cross_entropy(target, predicted):
    """Mean per-pixel binary cross-entropy, clipped as Keras clips it (1e-7)."""
    p = np.clip(predicted.astype("float64"), 1e-7, 1 - 1e-7)
    t = target.astype("float64")
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


class EveryNEpochs(keras.callbacks.Callback):
    """Prints the losses every `n` epochs, for long runs watched in a log."""

    def __init__(self, n, label):
        super().__init__()
        self.n, self.label = n, label

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.n == 0:
            print(f"  {self.label}: epoch {epoch + 1}, loss {logs['loss']:.4f}, "
                  f"val_loss {logs['val_loss']:.4f}", flush=True)


def train(model_name, x_train, x_test, *, seed, batch_size, epochs, kind="posts' budget"):
    keras.utils.set_random_seed(seed)
    model = BUILDERS[model_name]()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    callbacks = [EveryNEpochs(25, f"{model_name} b{batch_size} s{seed}")] if epochs > POST_EPOCHS else []
    start = time.perf_counter()
    history = model.fit(x_train, x_train, batch_size=batch_size, epochs=epochs,
                        validation_split=VALIDATION_SPLIT, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - start
    predicted = model.predict(x_test, batch_size=500, verbose=0)
    loss, val_loss = history.history["loss"], history.history["val_loss"]
    return {
        "model": model_name, "batch_size": batch_size, "seed": seed, "kind": kind,
        "epochs": epochs, "steps_per_epoch": steps_per_epoch(len(x_train), batch_size),
        "steps": epochs * steps_per_epoch(len(x_train), batch_size),
        "params": model.count_params(),
        "final_loss": round(loss[-1], 5), "final_val_loss": round(val_loss[-1], 5),
        "test_bce": round(binary_cross_entropy(x_test, predicted), 5),
        "seconds": round(seconds, 1),
        "loss_curve": [round(v, 5) for v in loss],
        "val_loss_curve": [round(v, 5) for v in val_loss],
    }


# %% [markdown]
# ## Summaries
#
# Mean, standard deviation and min-max over seeds for each model and batch;
# "flattening" is how much the validation loss still fell over the last five
# of the 25 epochs.


def spread(values):
    return {"mean": round(statistics.fmean(values), 5),
            "std": round(statistics.stdev(values), 5) if len(values) > 1 else 0.0,
            "min": round(min(values), 5), "max": round(max(values), 5)}


SCORES = ("final_loss", "final_val_loss", "test_bce", "seconds")


def summarize(runs):
    groups = {}
    for r in runs:
        if r["kind"] == "posts' budget":
            groups.setdefault((r["model"], r["batch_size"]), []).append(r)
    rows = []
    for (model_name, batch), group in groups.items():
        last5 = [r["val_loss_curve"][-6] - r["val_loss_curve"][-1] for r in group if r["epochs"] > 5]
        rows.append({
            "model": model_name, "batch_size": batch, "params": group[0]["params"],
            "seeds": [r["seed"] for r in group], "epochs": group[0]["epochs"],
            "steps": group[0]["steps"], "post_steps": post_steps(batch), "post_loss": POST_LOSS[model_name],
            **{k: spread([r[k] for r in group]) for k in SCORES},
            "val_loss_drop_last_5_epochs": spread(last5) if last5 else None,
        })
    return rows


def fmt(s, digits=4):
    return f"{s['mean']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def print_table(rows, long_runs, header):
    print(f"\n{header}")
    print("| model | batch | params | steps (post's) | post | loss | val loss | test BCE | s/run |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['batch_size']} | {r['params']:,} | {r['steps']:,} ({r['post_steps']:,}) "
              f"| ~{r['post_loss']} | {fmt(r['final_loss'])} | {fmt(r['final_val_loss'])} "
              f"| {fmt(r['test_bce'])} | {r['seconds']['mean']:.0f} |")
    for r in long_runs:
        print(f"| {r['model']}, {r['epochs']} epochs, seed {r['seed']} | {r['batch_size']} | {r['params']:,} "
              f"| {r['steps']:,} ({post_steps(r['batch_size']):,}) | ~{POST_LOSS[r['model']]} "
              f"| {r['final_loss']:.4f} | {r['final_val_loss']:.4f} | {r['test_bce']:.4f} "
              f"| {r['seconds']:.0f} |")
    for r in rows:
        drop = r["val_loss_drop_last_5_epochs"]
        if drop:
            print(f"{r['model']} batch {r['batch_size']}: validation loss fell {drop['mean']:.4f} "
                  f"({drop['min']:.4f}-{drop['max']:.4f}) over epochs {r['epochs'] - 5}-{r['epochs']}")
    for r in long_runs:
        at = min(POST_EPOCHS, r["epochs"]) - 1
        print(f"{r['model']} batch {r['batch_size']} seed {r['seed']}: val loss "
              f"{r['val_loss_curve'][at]:.4f} at epoch {at + 1}, "
              f"{r['final_val_loss']:.4f} at epoch {r['epochs']}")


# %% [markdown]
# ## Running it


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--transpose-seeds", type=int, nargs="*", default=None,
                        help="seeds for the Conv2DTranspose model at batch 25, if not --seeds "
                             "(a run takes about 14 minutes on 2 busy CPU cores)")
    parser.add_argument("--own-batch-seeds", type=int, nargs="*", default=list(SEEDS[:1]),
                        help="seeds for the Conv2DTranspose model at its post's batch 1000 (none: skip it)")
    parser.add_argument("--epochs", type=int, default=POST_EPOCHS)
    parser.add_argument("--matched-steps", nargs="*", choices=list(BUILDERS), default=None,
                        help="also train these models (all when none is named) once, first seed, batch 25, "
                             "for the posts' 48,000 steps")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs already in --json and train only the missing ones")
    parser.add_argument("--limit", type=int, default=None, help="at most N training images, for a quick look")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=JSON_PATH)
    args = parser.parse_args()

    keras.mixed_precision.set_global_policy("float32")
    (x_train, _), (x_test, _) = datasets.load_mnist(args.data_dir)
    x_train = x_train[:args.limit]
    device = describe_device("float32")
    budget = "posts' budget"
    transpose_seeds = args.seeds if args.transpose_seeds is None else args.transpose_seeds
    jobs = [("upsampling", UPSAMPLING_BATCH, s, args.epochs, budget) for s in args.seeds]
    jobs += [("transpose", UPSAMPLING_BATCH, s, args.epochs, budget) for s in transpose_seeds]
    jobs += [("transpose", TRANSPOSE_OWN_BATCH, s, args.epochs, budget) for s in args.own_batch_seeds]
    if args.matched_steps is not None:
        long_epochs = matched_epochs(len(x_train), UPSAMPLING_BATCH)
        jobs += [(m, UPSAMPLING_BATCH, args.seeds[0], long_epochs, "posts' steps")
                 for m in args.matched_steps or BUILDERS]

    runs = []
    if args.resume and args.json.is_file():
        earlier = json.loads(args.json.read_text())
        if earlier["train_images"] != len(x_train):
            raise SystemExit(f"{args.json} was made with {earlier['train_images']} training images, "
                             f"not {len(x_train)}: run without --resume")
        runs = earlier["runs"]
        done = {(r["model"], r["batch_size"], r["seed"], r["epochs"]) for r in runs}
        jobs = [job for job in jobs if job[:4] not in done]
        print(f"resuming: {len(runs)} runs kept from {args.json}, {len(jobs)} to train", flush=True)

    fit = len(x_train) - int(len(x_train) * VALIDATION_SPLIT)
    # MNIST's pixels are grey levels, not 0 or 1, so even a perfect copy has a loss: its floor.
    floor = {"fit": binary_cross_entropy(x_train[:fit], x_train[:fit]),
             "validation": binary_cross_entropy(x_train[fit:], x_train[fit:]),
             "test": binary_cross_entropy(x_test, x_test)}
    print("a perfect copy's binary cross-entropy: " + ", ".join(f"{k} {v:.4f}" for k, v in floor.items()))

    def report():
        return {
            "device": device, "cpu": cpu_model(), "keras": keras.__version__,
            "train_images": len(x_train), "fit_images": fit, "test_images": len(x_test),
            "perfect_copy_bce": {k: round(v, 5) for k, v in floor.items()}, "summary": summarize(runs),
            "long_runs": [r for r in runs if r["kind"] != budget], "runs": runs,
        }

    for model_name, batch, seed, epochs, kind in jobs:
        runs.append(train(model_name, x_train, x_test, seed=seed, batch_size=batch, epochs=epochs, kind=kind))
        r = runs[-1]
        print(f"{model_name:10} batch {batch:>4} seed {seed} {epochs:>3} epochs: loss {r['final_loss']:.4f}, "
              f"val {r['final_val_loss']:.4f}, test {r['test_bce']:.4f}, {r['seconds']:.0f} s", flush=True)
        files.write_json(args.json, report())
    result = report()
    print_table(result["summary"], result["long_runs"],
                f"MachineCurve's autoencoders on {len(x_train):,} MNIST images ({result['fit_images']:,} "
                f"fitted), {device}; mean (min-max) over seeds")
    print("machinecurve: last training loss, mean over seeds: " + "; ".join(
        f"{r['model']} batch {r['batch_size']} {r['final_loss']['mean']:.4f} (post ~{r['post_loss']})"
        for r in result["summary"]))


if __name__ == "__main__":
    main()

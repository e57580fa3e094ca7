"""
Title: Playground: your own digit through the trained denoisers, and checkerboards you can move
Description: A local web page. In its Denoise tab you draw a digit (or upload a
picture, or take a test image), turn the noise up, and see both trained
denoisers clean it, each with its PSNR, beside up to two more of your runs
(four models at most). Its Runs tab shows every finished run's scores. In its
Upsampling tab you move a Conv2DTranspose's kernel size and stride (or switch
to UpSampling2D + Conv2D) and see how many kernel stamps land on each output
pixel: the checkerboard of Distill's "Deconvolution and Checkerboard
Artifacts" appears and goes.
Accelerator: none (on a 2-core CPU both models take 10-20 ms an update,
four models 20-30 ms; a slider move shows its pictures in about 0.2 s)

The two denoisers learned different data: the Conv2DTranspose one MNIST
digits, the UpSampling2D one notMNIST letters. Their scores on one picture
are no contest between decoders (compare_decoders.py is); try a letter from
the notMNIST test set and the order turns round.

Run it:
    python denoise_transpose_mnist.py        # first, once each: trains and saves the models the page
    python denoise_upsampling_notmnist.py    # uses (2-4 minutes each on a CPU); the Upsampling tab needs none
    python playground.py                     # then open the address it prints

In a notebook the page shows under the last cell. It serves this machine
only (127.0.0.1) unless HOST says otherwise.
"""

# %% [markdown]
# ## Setup

# %%
try:  # First: hides TensorFlow's start-up lines, and shows an error you can fix as one line.
    import denoise_kit.quiet  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "denoise_kit":
        raise
    raise ModuleNotFoundError("denoise_kit, the project's helper package, is not installed: run "
                              "`pip install .` in a clone of the project (Colab: `!pip install "
                              "git+URL-of-the-repository`: README, Notebooks)") from None

from denoise_kit import cli, playground_app

# %% [markdown]
# ## Configuration
#
# Edit the constants here, or replace any of them for one run with the flag of
# the same name: `--port 8000`, `--models-dir elsewhere` (`--help` lists them all).

# %%
HOST = "127.0.0.1"  # Who may open the page: this machine only; "0.0.0.0" lets your network in too.
PORT = 7860  # The page's port; 0: the first free one from 7860.
MODELS_DIR = "outputs"  # The denoisers' runs: <script>/model.keras, and each tweak's <script>/<tweak>/.
DATA_DIR: str | None = None  # Test images; None: $DENOISE_DATA_DIR, data/, Keras' cache; never downloads.
NOISE_FACTOR = 0.5  # Slider start: clip(x + NOISE_FACTOR * N(0,1), 0, 1); scripts train at 0.5, keras.io 0.4.
SEED = 0  # The noise pattern: the slider only scales it; a new seed draws new noise.

# %%
# Flags rewrite the constants above in place for one run, each value checked (a bad one: one
# line, exit 2); CONFIG holds the values as they run. In a notebook, edit the constants instead.
CONFIG = cli.override_from_flags(globals())

# %% [markdown]
# ## The page
#
# Three tabs. **Denoise** reads the `model.keras` that each denoiser saved under
# MODELS_DIR (a missing one is named in the page, with the command that
# trains it) and runs your picture through both at its own size, as the
# training scripts' `--denoise` flag does: the saved models take inputs of
# shape (None, None, 1), any size their pooling divides (a picture is padded
# to it). Tick other runs there (a tweak's folder, e.g. `kernel_size-4/`) to
# see them beside the two; a run that finishes joins the list within
# seconds. **Runs** is the table of every finished run, as `runs.md` has it,
# and `runs.png`. **Upsampling** runs an all-ones image through the Keras layer you
# choose, with an all-ones kernel. A "stamp" is the kernel copied onto the
# output once per input pixel, scaled by that pixel; where stamps overlap they
# add up. It opens at the keras.io example's own decoder layer,
# `Conv2DTranspose(..., (3, 3), strides=2, padding="same")`: a checkerboard.

# %%
app = playground_app.build(MODELS_DIR, DATA_DIR, NOISE_FACTOR, SEED)

# %% [markdown]
# ## Serve it
#
# The address is printed below; Ctrl-C stops the server. In a notebook the
# page shows inline and the cell returns at once.

# %%
# app.launch(server_name=HOST, server_port=PORT, **playground_app.LAUNCH_OPTIONS), with a one-line
# error when the port is taken.
playground_app.serve(app, HOST, PORT)

"""
Title: Playground: your own digit through the trained denoisers, and checkerboards you can move
Description: A local web page. In its Denoise tab you draw a digit (or upload a
picture, or take a test image), turn the noise up, and see both trained
denoisers clean it, each with its PSNR. In its Upsampling tab you move a
Conv2DTranspose's kernel size and stride (or switch to UpSampling2D + Conv2D)
and see how many kernel stamps land on each output pixel: the checkerboard of
Distill's "Deconvolution and Checkerboard Artifacts" appears and goes.
Accelerator: none (the models are small: a 2-core CPU runs both in about 15 ms an update)

Run it:
    python denoise_transpose_mnist.py        # first, once: the models the page uses
    python denoise_upsampling_notmnist.py
    python playground.py                     # then open the address it prints

In a notebook the page shows under the cell. It serves this machine only
(127.0.0.1) unless HOST says otherwise.
"""

# %% [markdown]
# ## Setup

# %%
import denoise_kit.quiet  # noqa: F401  (first: hides TensorFlow's start-up lines; fixable errors print one line)

from denoise_kit import cli, playground_app

# %% [markdown]
# ## Configuration
#
# Edit the constants here, or replace any of them for one run with the flag of
# the same name: `--port 8000`, `--models-dir elsewhere` (`--help` lists them all).

# %%
HOST = "127.0.0.1"  # Who may open the page: this machine only; "0.0.0.0" lets your network in too.
PORT = 7860  # The page's port; 0: the first free one from 7860.
MODELS_DIR = "outputs"  # The folder holding the denoisers' output folders, each with its model.keras.
DATA_DIR: str | None = None  # Datasets for "Random test image"; None: $DENOISE_DATA_DIR, else data/.
NOISE_FACTOR = 0.5  # Where the noise slider starts (the scripts train at 0.5).
SEED = 0  # Where the noise seed starts.

# %%
# Flags replace the constants for one run, each value is checked (a bad one: one line, exit 2).
# In a notebook, nothing changes.
CONFIG = cli.override_from_flags(globals())

# %% [markdown]
# ## The page
#
# Two tabs. **Denoise** reads the `model.keras` that each denoiser saved under
# MODELS_DIR (a missing one is named in the page, with the command that
# trains it) and runs your picture through both at its own size, as
# `--denoise` does. **Upsampling** runs an all-ones image through the Keras
# layer you choose, with an all-ones kernel, and counts the stamps.

# %%
app = playground_app.build(MODELS_DIR, DATA_DIR, NOISE_FACTOR, SEED)

# %% [markdown]
# ## Serve it
#
# The address is printed below; Ctrl-C stops the server. In a notebook the
# page shows inline and the cell returns at once.

# %%
playground_app.serve(app, HOST, PORT)  # app.launch(server_name=HOST, server_port=PORT)

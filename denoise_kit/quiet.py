"""Import this module before keras to hide TensorFlow's start-up log lines.

TensorFlow 2.21 prints CUDA and CPU-feature notices while it initialises,
before its own log level applies, so stderr is silenced for that moment.
Set TF_CPP_MIN_LOG_LEVEL=0 yourself to see everything (e.g. to debug a GPU
set-up); the scripts print the device they use either way.
"""

import os
import sys


def quiet_tensorflow() -> None:
    """Silence stderr while TensorFlow initialises, unless another log level was asked for."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") != "2":
        return  # Asked for another level: show what TensorFlow prints.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # Where the CUDA notices are printed.
    except ImportError:
        pass  # `import keras` right after reports it, with stderr back.
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


quiet_tensorflow()

"""Import this module before keras to hide TensorFlow's start-up log lines.

TensorFlow 2.21 prints CUDA and CPU-feature notices while it initialises,
before its own log level applies, so stderr is silenced for that moment.
Set TF_CPP_MIN_LOG_LEVEL yourself to see everything (e.g. to debug a GPU
set-up); the scripts print the device they use either way.
"""

from denoise_kit.cli import quiet_tensorflow

quiet_tensorflow()

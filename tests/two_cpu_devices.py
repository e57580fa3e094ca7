"""Run a script with the CPU split into two devices, to test data-parallel
training without GPUs:  python tests/two_cpu_devices.py SCRIPT [ARGS...]

TensorFlow gets two logical CPU devices (MirroredStrategy spreads over them),
with its oneDNN kernels on whatever the CPU: TensorFlow turns them on by
itself only on CPUs with AVX512-VNNI, AVX512-BF16 or AMX, and they are the
ones that fail on a device's empty share of a batch. JAX gets two host
devices from XLA_FLAGS (DataParallel spreads over them).
"""

import os
import runpy
import sys
from pathlib import Path

if os.environ.get("KERAS_BACKEND", "tensorflow") == "jax":
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2".strip()
else:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # Read when TensorFlow loads.
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

script = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(script.parent))
sys.argv = sys.argv[1:]
runpy.run_path(str(script), run_name="__main__")

"""TensorFlow settings that must be in place before TensorFlow is first imported.

Every entry point (the demo, the dashboard, the data_prep and model commands, the benchmarks,
the notebooks, the tests) imports `faces` (itself, or through `data_prep` or `model`) before
TensorFlow, and `faces` applies these here, once. A variable the user has set is left as it is.

``TF_ENABLE_ONEDNN_OPTS=0``: TensorFlow 2.21's oneDNN kernels crash the interpreter (SIGSEGV
or SIGABRT) on CPUs with AVX-512, both AMD EPYC and Intel Xeon, when they compute the gradient
of a 1x1 stride-2 convolution for some shapes (a batch of one or three images through a few
channels): what a saliency map of one face computes through the residual shortcut of our
CNNs. TensorFlow's own kernels cost inference nothing measurable; training is faster with
oneDNN and may turn it on (benchmarks/README.md; README, "Troubleshooting").
"""

from __future__ import annotations

import os
import sys
import warnings

TENSORFLOW_DEFAULTS = {
    "TF_ENABLE_ONEDNN_OPTS": "0",  # see the module docstring
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ info and warning lines hide our output
}

UNSAFE_IMPORT_WARNING = (
    "TensorFlow was imported before faces, data_prep or model, so it runs with oneDNN, which "
    "can crash on AVX-512 CPUs; import one of them first, or set TF_ENABLE_ONEDNN_OPTS=0 in "
    "the environment."
)


def configure_tensorflow() -> None:
    """Set each of `TENSORFLOW_DEFAULTS` the user has not set; warn if TensorFlow was imported
    first, since it then runs without them."""
    missing = {name: value for name, value in TENSORFLOW_DEFAULTS.items() if name not in os.environ}
    os.environ.update(missing)
    if "tensorflow" in sys.modules and "TF_ENABLE_ONEDNN_OPTS" in missing:
        warnings.warn(
            UNSAFE_IMPORT_WARNING,
            RuntimeWarning,
            stacklevel=3,
        )

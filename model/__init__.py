"""Age and gender CNNs: training, evaluation, calibrated margins, inference, explanations."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

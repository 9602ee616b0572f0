"""Age and gender CNNs: training, evaluation, calibrated margins, inference, explanations."""

import faces  # noqa: F401  (sets TensorFlow's environment before TensorFlow is imported)

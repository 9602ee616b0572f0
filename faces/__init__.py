"""The code every photo runs through, in training data and in a user's upload alike: decoding
(`faces.images`), face detection (`faces.detect`, MTCNN through `faces.mtcnn_onnx`), alignment to
the chip template (`faces.align`), and TensorFlow's runtime settings (`faces.runtime`), applied
here before anything can import TensorFlow.

The bottom floor: it imports nothing of data_prep, model or webapp.
"""

from faces.runtime import configure_tensorflow

configure_tensorflow()

from faces.detect import Face, FaceDetector, face_crop  # noqa: E402
from faces.images import ImageError, load_image  # noqa: E402

__all__ = ["Face", "FaceDetector", "ImageError", "face_crop", "load_image"]

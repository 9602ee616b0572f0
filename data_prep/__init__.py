"""UTKFace in, a rebalanced, split, cached data set out.

Public API: `prepare` writes a prepared folder; `load_split` and `read_manifest` read it back.
`load_image`, `FaceDetector` and `face_crop` are shared with inference so that a photo is
decoded and cropped exactly as the training images were.
"""

from data_prep.runtime import configure_tensorflow

configure_tensorflow()

from data_prep.config import PrepareConfig  # noqa: E402
from data_prep.dataset import VARIANTS, SplitData, load_split, read_manifest  # noqa: E402
from data_prep.faces import Face, FaceDetector, face_crop  # noqa: E402
from data_prep.images import ImageError, load_image  # noqa: E402
from data_prep.prepare import prepare  # noqa: E402

__all__ = [
    "VARIANTS",
    "Face",
    "FaceDetector",
    "ImageError",
    "PrepareConfig",
    "SplitData",
    "face_crop",
    "load_image",
    "load_split",
    "prepare",
    "read_manifest",
]

"""MTCNN face detection with numpy and onnxruntime: the ``mtcnn`` package's results, without
TensorFlow.

`OnnxMTCNN.detect_faces(image)` returns what ``MTCNN().detect_faces([image],
fit_to_image=False)[0]`` of ``mtcnn`` 1.0.0 returns (default settings). The package runs its
networks as Keras models and its image operations as eager TensorFlow ops, one small op at a
time; most of its time goes to those ops and their Python overhead, not to the networks. Here
the three networks, exported to ONNX (`export_networks`, into faces/mtcnn/), run in
onnxruntime, and the image operations are vectorised numpy that repeats TensorFlow's float32
arithmetic:

- the image pyramid: ``tf.image.resize(method="area")`` (TensorFlow's ResizeArea kernel), the
  same sums in the same order, so the same float32 values;
- the RNet and ONet patches: ``tf.image.crop_and_resize`` (bilinear, zeros outside the image);
- the box arithmetic, including the steps the package leaves to TensorFlow in float32.

Both image operations give TensorFlow's values bit for bit, so the results differ from the
package's only by the networks' float error between onnxruntime and Keras: on test photos,
confidences by under 1e-5 and coordinates by under 1e-3 pixels before rounding. The same pipeline
runs in the browser: ``webapp/static/page/mtcnn.js``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime

MIN_FACE_SIZE = 20
PNET_WINDOW = 12
PNET_STRIDE = 2
SCALE_FACTOR = 0.709

PNET_THRESHOLD = 0.6
RNET_THRESHOLD = 0.7
ONET_THRESHOLD = 0.8

PNET_SCALE_NMS = 0.5
PNET_MERGED_NMS = 0.7
RNET_NMS = 0.7
ONET_NMS = 0.7

RNET_SIZE = 24
ONET_SIZE = 48

KEYPOINTS = {"nose": 2, "mouth_right": 4, "right_eye": 1, "left_eye": 0, "mouth_left": 3}
"""The package's keypoint names in its order, with each one's index among ONet's five points."""

# Boxes are float64 arrays of rows (x1, y1, x2, y2, score), as the package keeps them;
# landmarks are rows of the five x coordinates followed by the five y coordinates.
X1, Y1, X2, Y2, SCORE = range(5)


NETWORKS_DIR = Path(__file__).resolve().parent / "mtcnn"
"""The three networks as ONNX files, ``mtcnn_<network>.onnx`` (the browser edition runs them
too)."""
NETWORK_INPUTS = {"pnet": (None, None), "rnet": (24, 24), "onet": (48, 48)}
"""MTCNN's networks in the order they run, with their input height and width (PNet: any)."""


def network_file(network: str) -> str:
    return f"mtcnn_{network}.onnx"


def export_networks(folder: str | Path = NETWORKS_DIR) -> list[Path]:
    """Export the ``mtcnn`` package's three Keras networks to ONNX files in `folder` (needs
    TensorFlow and tf2onnx: requirements-bench.txt); only after the package changed."""
    import tensorflow as tf
    from mtcnn import MTCNN

    written = []
    for stage, (network, (height, width)) in zip(
        MTCNN().stages, NETWORK_INPUTS.items(), strict=True
    ):
        path = Path(folder) / network_file(network)
        stage._model(np.zeros((1, height or 32, width or 32, 3), np.float32))
        spec = tf.TensorSpec([None, height, width, 3], tf.float32, name="images")
        stage._model.export(str(path), format="onnx", input_signature=[spec], verbose=False)
        written.append(path)
    return written


class OnnxMTCNN:
    """MTCNN's three networks from ``folder`` (`NETWORKS_DIR`) in onnxruntime sessions.

    The pyramid's next image is resized on a thread of its own while PNet looks at the one
    before it (numpy and onnxruntime both leave Python's lock meanwhile): a fifth less time.
    """

    def __init__(self, folder: str | Path = NETWORKS_DIR):
        options = onnxruntime.SessionOptions()
        # Spinning worker threads would take the cores from the numpy work between the runs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._pnet, self._rnet, self._onet = (
            onnxruntime.InferenceSession(str(Path(folder) / network_file(name)), options)
            for name in NETWORK_INPUTS
        )
        self._pyramid = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mtcnn-pyramid")

    def detect_faces(self, image: np.ndarray) -> list[dict]:
        """Faces in a uint8 (H, W, 3) RGB image, as the package's JSON: ``box`` [x, y, width,
        height], ``confidence`` and ``keypoints`` {name: [x, y]}, rounded as it rounds, in its
        order; Python ints and floats where it gives numpy scalars."""
        pixels = normalized(image)
        boxes = self._propose(pixels)
        if len(boxes):
            boxes = self._refine(pixels, boxes)
        if not len(boxes):
            return []
        boxes, landmarks = self._finalize(pixels, boxes)
        return [face_json(box, points) for box, points in zip(boxes, landmarks, strict=True)]

    def _propose(self, pixels: np.ndarray) -> np.ndarray:
        """PNet: candidate boxes from every scale of the pyramid, squared."""
        height, width = pixels.shape[:2]
        columns_first = np.ascontiguousarray(pixels.swapaxes(0, 1))
        scales = pyramid_scales(height, width)
        sizes = [(int(height * scale), int(width * scale)) for scale in scales]
        pyramid = [self._pyramid.submit(resize_area, columns_first, *size) for size in sizes]
        candidates = []
        for scale, scaled in zip(scales, pyramid, strict=True):
            outputs = run_network(self._pnet, scaled.result()[None])
            boxes = by_score(pnet_windows(outputs[4][0], outputs[2][0]))
            boxes[:, X1 : Y2 + 1] /= scale
            candidates.append(non_max_suppression(boxes, PNET_SCALE_NMS, "union"))
        if not candidates:
            return np.empty((0, 5))
        merged = non_max_suppression(by_score(np.concatenate(candidates)), PNET_MERGED_NMS, "union")
        return squared(merged)

    def _refine(self, pixels: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """RNet: the candidates that it scores as faces, moved by its offsets, squared."""
        outputs = run_network(self._rnet, crop_patches(pixels, boxes, RNET_SIZE))
        boxes = shifted(with_scores(boxes, outputs[2]), outputs[4])
        boxes = boxes[boxes[:, SCORE] > RNET_THRESHOLD]
        return squared(non_max_suppression(by_score(boxes), RNET_NMS, "union"))

    def _finalize(self, pixels: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ONet: the faces, moved by its offsets, and their landmarks."""
        outputs = run_network(self._onet, crop_patches(pixels, boxes, ONET_SIZE))
        landmarks = placed_landmarks(boxes, outputs[10])
        boxes = shifted(with_scores(boxes, outputs[2]), outputs[4])
        keep = boxes[:, SCORE] > ONET_THRESHOLD
        boxes, landmarks = boxes[keep], landmarks[keep]
        order = score_order(boxes)
        boxes, landmarks = boxes[order], landmarks[order]
        kept = kept_after_suppression(boxes, ONET_NMS, "min")
        return boxes[kept], landmarks[kept]


# ---------------------------------------------------------------- networks


def run_network(session: onnxruntime.InferenceSession, images: np.ndarray) -> dict:
    """The network's outputs on an NHWC float32 batch, keyed by their last dimension: 4 box
    offsets, 10 landmark coordinates, 2 class probabilities (not a face, a face)."""
    outputs = session.run(None, {session.get_inputs()[0].name: images})
    return {output.shape[-1]: output for output in outputs}


# ---------------------------------------------------------------- images


def normalized(image: np.ndarray) -> np.ndarray:
    """The image as the networks take it: float32 (value - 127.5) / 128, in [-1, 1]."""
    pixels = np.array(image, dtype=np.float32)
    pixels -= 127.5
    pixels /= 128
    return pixels


def pyramid_scales(height: int, width: int) -> np.ndarray:
    """The package's scales: from 12/20 down by 0.709 until the image's shorter side would be
    about 12 pixels (Python's round, half to even, decides the count)."""
    count = round(-(np.log(min(width, height) / PNET_WINDOW) / np.log(SCALE_FACTOR) + 1))
    return PNET_WINDOW / MIN_FACE_SIZE * SCALE_FACTOR ** np.arange(count)


def resize_area(columns_first: np.ndarray, height: int, width: int) -> np.ndarray:
    """``tf.image.resize(method="area")`` of an image given as (W, H, C): a (height, width, C)
    float32 image.

    TensorFlow's kernel sums each output's source pixels along a row, weighted by how much of
    each one the output covers, adds those row sums weighted by the rows' coverage, and divides
    by the area. This does the same float32 operations in the same order, for all outputs at
    once: the image comes columns first so that both passes gather whole rows.
    """
    x_index, x_weight, x_scale = area_coverage(columns_first.shape[0], width)
    y_index, y_weight, y_scale = area_coverage(columns_first.shape[1], height)
    row_sums = np.ascontiguousarray(weighted_rows(columns_first, x_index, x_weight).swapaxes(0, 1))
    sums = weighted_rows(row_sums, y_index, y_weight)
    return sums * (np.float32(1) / (y_scale * x_scale))


def area_coverage(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """For each output pixel along one axis, the source pixels that it covers and the fraction
    of each covered, both (out_size, span), and the axis's scale, as ResizeArea computes them.

    Rows cover ``span`` source pixels; shorter spans end with zero weights. A span that ends
    past the last pixel (float rounding) reads the last pixel there, as the kernel does.
    """
    scale = np.float32(in_size / out_size)
    position = np.arange(out_size, dtype=np.float32)
    start, end = position * scale, (position + 1) * scale
    first = np.floor(start)
    span = int((np.ceil(end) - first).max())
    pixel = first[:, None] + np.arange(span, dtype=np.float32)
    covered = np.minimum(pixel + 1, end[:, None]) - np.maximum(pixel, start[:, None])
    weight = np.maximum(covered, np.float32(0))
    return np.minimum(pixel, in_size - 1).astype(np.intp), weight, scale


def weighted_rows(image: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Sums over k of ``weight[:, k] * image[index[:, k]]`` along the first axis, added in
    order of k, in float32."""
    total = weight[:, 0, None, None] * image[index[:, 0]]
    for k in range(1, index.shape[1]):
        if (weight[:, k] == 1).all():  # inside every span: multiplying by 1 changes nothing
            total += image[index[:, k]]
        else:
            total += weight[:, k, None, None] * image[index[:, k]]
    return total


# ---------------------------------------------------------------- patches


def crop_patches(pixels: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """``tf.image.crop_and_resize`` (bilinear, zeros outside the image) of every box: an
    (n, size, size, C) float32 batch."""
    height, width = pixels.shape[:2]
    ys = sample_positions(boxes[:, Y1] / height, boxes[:, Y2] / height, height, size)
    xs = sample_positions(boxes[:, X1] / width, boxes[:, X2] / width, width, size)
    top, bottom, y_lerp = interpolation_pixels(ys, height)
    left, right, x_lerp = interpolation_pixels(xs, width)
    y_lerp, x_lerp = y_lerp[:, :, None, None], x_lerp[:, None, :, None]
    rows_top, rows_bottom = top[:, :, None], bottom[:, :, None]
    cols_left, cols_right = left[:, None, :], right[:, None, :]

    top_left, top_right = pixels[rows_top, cols_left], pixels[rows_top, cols_right]
    bottom_left, bottom_right = pixels[rows_bottom, cols_left], pixels[rows_bottom, cols_right]
    upper = top_left + (top_right - top_left) * x_lerp
    lower = bottom_left + (bottom_right - bottom_left) * x_lerp
    patches = upper + (lower - upper) * y_lerp

    inside = is_inside(ys, height)[:, :, None] & is_inside(xs, width)[:, None, :]
    patches[~inside] = 0
    return patches


def sample_positions(start: np.ndarray, end: np.ndarray, extent: int, size: int) -> np.ndarray:
    """The (n, size) float32 source coordinates that crop_and_resize samples along one axis
    between normalised ``start`` and ``end``."""
    start, end = start.astype(np.float32), end.astype(np.float32)
    last = np.float32(extent - 1)
    step = (end - start) * last / np.float32(size - 1)
    return (start * last)[:, None] + np.arange(size, dtype=np.float32) * step[:, None]


def interpolation_pixels(
    positions: np.ndarray, extent: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels below and above each position (clamped to the image, for the outside ones
    that are zeroed anyway) and the position's fraction of the way between them."""
    below = np.floor(positions)
    fraction = positions - below
    below = np.clip(below, 0, extent - 1).astype(np.intp)
    above = np.clip(np.ceil(positions), 0, extent - 1).astype(np.intp)
    return below, above, fraction


def is_inside(positions: np.ndarray, extent: int) -> np.ndarray:
    return (positions >= 0) & (positions <= extent - 1)


# ---------------------------------------------------------------- boxes


def pnet_windows(offsets: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The 12x12 window of every PNet output cell that scores above the threshold, moved by
    its predicted offsets, in pixels of the scaled image."""
    rows, cols = np.nonzero(scores[:, :, 1] > PNET_THRESHOLD)
    left, top = PNET_STRIDE * cols, PNET_STRIDE * rows
    dx1, dy1, dx2, dy2 = offsets[rows, cols].astype(np.float64).T * (PNET_WINDOW - 1)
    return np.stack(
        [
            left + 1 + dx1,
            top + 1 + dy1,
            left + PNET_WINDOW + dx2,
            top + PNET_WINDOW + dy2,
            scores[rows, cols, 1],
        ],
        axis=1,
    )


def score_order(boxes: np.ndarray) -> np.ndarray:
    """Indices from the highest score down, as the package sorts: ``np.argsort`` reversed, so
    that equal scores come in its order."""
    return np.argsort(boxes[:, SCORE])[::-1]


def by_score(boxes: np.ndarray) -> np.ndarray:
    return boxes[score_order(boxes)]


def non_max_suppression(boxes: np.ndarray, threshold: float, method: str) -> np.ndarray:
    return boxes[kept_after_suppression(boxes, threshold, method)]


def kept_after_suppression(boxes: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """The package's NMS of boxes sorted by score: a box is dropped when any box before it
    overlaps it by more than the threshold, whether or not that box was itself dropped.

    ``method`` "union" measures overlap as intersection over union, "min" as intersection over
    the smaller box. Returns the indices of the boxes kept.
    """
    x1, y1, x2, y2 = boxes[:, X1], boxes[:, Y1], boxes[:, X2], boxes[:, Y2]
    area = (x2 - x1) * (y2 - y1)
    inter_width = np.maximum(0, np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1))
    inter_height = np.maximum(0, np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1))
    intersection = inter_width * inter_height
    with np.errstate(divide="ignore", invalid="ignore"):  # empty boxes: NaN, overlaps nothing
        if method == "min":
            overlap = intersection / np.minimum(area[:, None], area)
        else:
            overlap = intersection / (area[:, None] + area - intersection)
    earlier = np.triu(np.ones(overlap.shape, dtype=bool), k=1)
    return np.flatnonzero(~(earlier & (overlap > threshold)).any(axis=0))


def squared(boxes: np.ndarray) -> np.ndarray:
    """Each box grown to a square around its centre, its side the box's longer side."""
    boxes = boxes.copy()
    width, height = boxes[:, X2] - boxes[:, X1], boxes[:, Y2] - boxes[:, Y1]
    side = np.maximum(width, height)
    boxes[:, X1] = boxes[:, X1] + width * 0.5 - side * 0.5
    boxes[:, Y1] = boxes[:, Y1] + height * 0.5 - side * 0.5
    boxes[:, X2] = boxes[:, X1] + side
    boxes[:, Y2] = boxes[:, Y1] + side
    return boxes


def with_scores(boxes: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    boxes[:, SCORE] = probabilities[:, 1]
    return boxes


def shifted(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes moved by a network's offsets, in fractions of the box's size (+1).

    The package adds the offsets times the sizes as a float32 TensorFlow tensor to its float64
    boxes, so TensorFlow does the whole update in float32; so does this.
    """
    boxes = boxes.copy()
    width = (boxes[:, X2] - boxes[:, X1] + 1).astype(np.float32)
    height = (boxes[:, Y2] - boxes[:, Y1] + 1).astype(np.float32)
    sizes = np.stack([width, height, width, height], axis=1)
    corners = boxes[:, X1 : Y2 + 1].astype(np.float32)
    boxes[:, X1 : Y2 + 1] = corners + offsets * sizes
    return boxes


def placed_landmarks(boxes: np.ndarray, relative: np.ndarray) -> np.ndarray:
    """ONet's landmarks, given as fractions of the box it looked at, in pixels; rounded to
    float32 as the package stores them."""
    width = boxes[:, X2, None] - boxes[:, X1, None] + 1
    height = boxes[:, Y2, None] - boxes[:, Y1, None] + 1
    xs = width * relative[:, :5] + boxes[:, X1, None] - 1
    ys = height * relative[:, 5:] + boxes[:, Y1, None] - 1
    return np.concatenate([xs, ys], axis=1).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------- output


def face_json(box: np.ndarray, landmarks: np.ndarray) -> dict:
    """One face as the package's JSON, rounded half to even as numpy rounds."""
    x1, y1, x2, y2, score = box
    points = landmarks.round().astype(int)
    return {
        "box": np.round([x1, y1, x2 - x1, y2 - y1]).astype(int).tolist(),
        "confidence": float(score),
        "keypoints": {name: [int(points[k]), int(points[k + 5])] for name, k in KEYPOINTS.items()},
    }

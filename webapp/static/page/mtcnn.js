// Face detection ported from the Python `mtcnn` 1.0.0 package (MTCNN().detect_faces
// on one image, default settings, fit_to_image=False), running its three Keras networks
// exported to ONNX (NHWC float32 inputs) through onnxruntime-web. Image operations copy
// TensorFlow's float32 arithmetic step by step (Math.fround), so results match the
// Python package up to the networks' float error.

import { roundHalfEven } from "./imaging.js";

const MIN_FACE_SIZE = 20;
const PNET_WINDOW = 12;
const PNET_STRIDE = 2;
const SCALE_FACTOR = 0.709;

const PNET_THRESHOLD = 0.6;
const RNET_THRESHOLD = 0.7;
const ONET_THRESHOLD = 0.8;

const PNET_SCALE_NMS = 0.5;
const PNET_MERGED_NMS = 0.7;
const RNET_NMS = 0.7;
const ONET_NMS = 0.7;

const RNET_SIZE = 24;
const ONET_SIZE = 48;

const f32 = Math.fround;

/**
 * Detects faces in an ImageData-like `{width, height, data}` (RGBA bytes).
 * `nets` holds the pnet, rnet and onet InferenceSessions; `ort` is the onnxruntime module.
 * Resolves to [{box: [x, y, w, h], confidence, keypoints: {left_eye: [x, y], ...}}].
 */
export async function detectFaces(image, nets, ort) {
  const faces = await detectFacesUnrounded(image, nets, ort);
  return faces.map(faceToJson);
}

/**
 * Same detections before rounding: [{x1, y1, x2, y2, score, landmarks}], where
 * landmarks holds the five x coordinates followed by the five y coordinates.
 */
async function detectFacesUnrounded(image, nets, ort) {
  const pixels = normalizePixels(image);
  const proposals = await proposeBoxes(pixels, nets.pnet, ort);
  if (proposals.length === 0) return [];
  const refined = await refineBoxes(pixels, proposals, nets.rnet, ort);
  if (refined.length === 0) return [];
  return finalizeFaces(pixels, refined, nets.onet, ort);
}

// ---------------------------------------------------------------- stages

async function proposeBoxes(pixels, pnet, ort) {
  let candidates = [];
  for (const scale of pyramidScales(pixels.width, pixels.height)) {
    const height = Math.trunc(pixels.height * scale);
    const width = Math.trunc(pixels.width * scale);
    const scaled = resizeArea(pixels, height, width);
    const outputs = await runNetwork(pnet, ort, scaled, [1, height, width, 3]);
    const boxes = sortByScoreDescending(pnetWindows(outputs))
      .map((box) => unscaleBox(box, scale));
    candidates = candidates.concat(suppressOverlaps(boxes, PNET_SCALE_NMS, "union"));
  }
  const merged = suppressOverlaps(sortByScoreDescending(candidates), PNET_MERGED_NMS, "union");
  return merged.map(squareBox);
}

async function refineBoxes(pixels, boxes, rnet, ort) {
  const patches = cropPatches(pixels, boxes, RNET_SIZE);
  const outputs = await runNetwork(rnet, ort, patches, [boxes.length, RNET_SIZE, RNET_SIZE, 3]);
  const offsets = outputWithWidth(outputs, 4).data;
  const scores = outputWithWidth(outputs, 2).data;

  const kept = boxes
    .map((box, i) => ({ ...applyOffsets(box, offsets, i), score: scores[2 * i + 1] }))
    .filter((box) => box.score > RNET_THRESHOLD);
  return suppressOverlaps(sortByScoreDescending(kept), RNET_NMS, "union").map(squareBox);
}

async function finalizeFaces(pixels, boxes, onet, ort) {
  const patches = cropPatches(pixels, boxes, ONET_SIZE);
  const outputs = await runNetwork(onet, ort, patches, [boxes.length, ONET_SIZE, ONET_SIZE, 3]);
  const offsets = outputWithWidth(outputs, 4).data;
  const landmarks = outputWithWidth(outputs, 10).data;
  const scores = outputWithWidth(outputs, 2).data;

  const kept = boxes
    .map((box, i) => ({
      ...applyOffsets(box, offsets, i),
      score: scores[2 * i + 1],
      landmarks: placeLandmarks(box, landmarks.subarray(10 * i, 10 * i + 10)),
    }))
    .filter((face) => face.score > ONET_THRESHOLD);
  return suppressOverlaps(sortByScoreDescending(kept), ONET_NMS, "min");
}

// ---------------------------------------------------------------- networks

async function runNetwork(session, ort, data, dims) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, dims) };
  const results = await session.run(feeds);
  return session.outputNames.map((name) => results[name]);
}

// The networks' outputs differ in their last dimension: 4 box offsets, 10 landmark
// coordinates, 2 class probabilities (non-face, face).
function outputWithWidth(outputs, width) {
  return outputs.find((tensor) => tensor.dims[tensor.dims.length - 1] === width);
}

// ---------------------------------------------------------------- image operations

function normalizePixels({ width, height, data }) {
  const values = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) values[3 * i + c] = (data[4 * i + c] - 127.5) / 128;
  }
  return { width, height, data: values };
}

// tf.image.resize(method=AREA), i.e. TensorFlow's ResizeArea kernel (align_corners=False).
function resizeArea(src, outHeight, outWidth) {
  const heightScale = f32(src.height / outHeight);
  const widthScale = f32(src.width / outWidth);
  const norm = f32(1 / f32(heightScale * widthScale));
  const columns = Array.from({ length: outWidth }, (_, x) => areaSpan(x, widthScale, src.width));
  const out = new Float32Array(outHeight * outWidth * 3);

  for (let y = 0; y < outHeight; y++) {
    const rows = areaSpan(y, heightScale, src.height);
    for (let x = 0; x < outWidth; x++) {
      const cols = columns[x];
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let r = 0; r < rows.indices.length; r++) {
          const rowStart = rows.indices[r] * src.width;
          let rowSum = 0;
          for (let k = 0; k < cols.indices.length; k++) {
            const value = src.data[3 * (rowStart + cols.indices[k]) + c];
            rowSum = f32(rowSum + f32(value * cols.weights[k]));
          }
          sum = f32(sum + f32(rowSum * rows.weights[r]));
        }
        out[3 * (y * outWidth + x) + c] = f32(sum * norm);
      }
    }
  }
  return out;
}

// Source pixels covered by output pixel `index` and the fraction of each one covered.
function areaSpan(index, scale, inSize) {
  const start = f32(index * scale);
  const end = f32((index + 1) * scale);
  const indices = [];
  const weights = [];
  for (let i = Math.floor(start); i < Math.ceil(end); i++) {
    let weight;
    if (i < start) weight = i + 1 > end ? scale : f32(i + 1 - start);
    else weight = i + 1 > end ? f32(end - i) : 1;
    indices.push(clamp(i, 0, inSize - 1));
    weights.push(weight);
  }
  return { indices, weights };
}

// tf.image.crop_and_resize (bilinear, zeros outside the image) of each box, stacked.
function cropPatches(pixels, boxes, size) {
  const patchLength = size * size * 3;
  const out = new Float32Array(boxes.length * patchLength);
  boxes.forEach((box, i) => {
    cropPatch(pixels, box, size, out.subarray(i * patchLength, (i + 1) * patchLength));
  });
  return out;
}

function cropPatch({ width, height, data }, box, size, out) {
  const ys = samplePositions(f32(box.y1 / height), f32(box.y2 / height), height, size);
  const xs = samplePositions(f32(box.x1 / width), f32(box.x2 / width), width, size);
  for (let y = 0; y < size; y++) {
    const inY = ys[y];
    if (inY < 0 || inY > height - 1) continue;
    const top = Math.floor(inY);
    const bottom = Math.ceil(inY);
    const yLerp = f32(inY - top);
    for (let x = 0; x < size; x++) {
      const inX = xs[x];
      if (inX < 0 || inX > width - 1) continue;
      const left = Math.floor(inX);
      const right = Math.ceil(inX);
      const xLerp = f32(inX - left);
      for (let c = 0; c < 3; c++) {
        const topLeft = data[3 * (top * width + left) + c];
        const topRight = data[3 * (top * width + right) + c];
        const bottomLeft = data[3 * (bottom * width + left) + c];
        const bottomRight = data[3 * (bottom * width + right) + c];
        const upper = f32(topLeft + f32(f32(topRight - topLeft) * xLerp));
        const lower = f32(bottomLeft + f32(f32(bottomRight - bottomLeft) * xLerp));
        out[3 * (y * size + x) + c] = f32(upper + f32(f32(lower - upper) * yLerp));
      }
    }
  }
}

// Sampling coordinates along one axis for a crop between normalised `start` and `end`.
function samplePositions(start, end, extent, size) {
  const step = f32(f32(f32(end - start) * (extent - 1)) / (size - 1));
  const origin = f32(start * (extent - 1));
  return Array.from({ length: size }, (_, i) => f32(origin + f32(i * step)));
}

// ---------------------------------------------------------------- boxes

function pyramidScales(width, height) {
  const minSide = Math.min(width, height);
  const count = roundHalfEven(-(Math.log(minSide / PNET_WINDOW) / Math.log(SCALE_FACTOR) + 1));
  const firstScale = PNET_WINDOW / MIN_FACE_SIZE;
  return Array.from({ length: Math.max(count, 0) }, (_, k) => firstScale * Math.pow(SCALE_FACTOR, k));
}

// Every PNet output cell above the threshold, as a box in the scaled image.
function pnetWindows(outputs) {
  const probabilities = outputWithWidth(outputs, 2);
  const offsets = outputWithWidth(outputs, 4).data;
  const [, rows, cols] = probabilities.dims;
  const boxes = [];
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      const cell = y * cols + x;
      const score = probabilities.data[2 * cell + 1];
      if (score > PNET_THRESHOLD) {
        boxes.push(windowBox(x, y, offsets.subarray(4 * cell, 4 * cell + 4), score));
      }
    }
  }
  return boxes;
}

// The 12x12 window seen by PNet output cell (x, y), moved by its predicted offsets.
function windowBox(x, y, [dx1, dy1, dx2, dy2], score) {
  const left = PNET_STRIDE * x;
  const top = PNET_STRIDE * y;
  const span = PNET_WINDOW - 1;
  return {
    x1: left + 1 + dx1 * span,
    y1: top + 1 + dy1 * span,
    x2: left + PNET_WINDOW + dx2 * span,
    y2: top + PNET_WINDOW + dy2 * span,
    score,
  };
}

function unscaleBox(box, scale) {
  return { ...box, x1: box.x1 / scale, y1: box.y1 / scale, x2: box.x2 / scale, y2: box.y2 / scale };
}

// The package adds offsets times sizes as a float32 TensorFlow tensor to its float64
// boxes, so TensorFlow does the whole update, and stores the result, in float32.
function applyOffsets(box, offsets, i) {
  const width = f32(box.x2 - box.x1 + 1);
  const height = f32(box.y2 - box.y1 + 1);
  const shift = (value, k, size) => f32(f32(value) + f32(offsets[4 * i + k] * size));
  return {
    ...box,
    x1: shift(box.x1, 0, width),
    y1: shift(box.y1, 1, height),
    x2: shift(box.x2, 2, width),
    y2: shift(box.y2, 3, height),
  };
}

function squareBox(box) {
  const width = box.x2 - box.x1;
  const height = box.y2 - box.y1;
  const side = Math.max(width, height);
  const x1 = box.x1 + width * 0.5 - side * 0.5;
  const y1 = box.y1 + height * 0.5 - side * 0.5;
  return { ...box, x1, y1, x2: x1 + side, y2: y1 + side };
}

// Landmarks relative to the box ONet looked at; the package stores them as float32.
function placeLandmarks(box, relative) {
  const width = box.x2 - box.x1 + 1;
  const height = box.y2 - box.y1 + 1;
  const absolute = new Float64Array(10);
  for (let k = 0; k < 5; k++) {
    absolute[k] = f32(width * relative[k] + box.x1 - 1);
    absolute[k + 5] = f32(height * relative[k + 5] + box.y1 - 1);
  }
  return absolute;
}

// The package sorts with numpy's argsort(scores)[::-1]. Its default argsort leaves the
// order of equal scores unspecified (it varies with the CPU's SIMD support); this is
// the order a stable argsort would give: equal scores, later box first.
function sortByScoreDescending(boxes) {
  return [...boxes].reverse().sort((a, b) => b.score - a.score);
}

// The package's NMS: a box is dropped when any box ranked above it overlaps it by
// more than the threshold, whether or not that box was itself dropped.
function suppressOverlaps(boxes, threshold, method) {
  return boxes.filter((box, j) => {
    for (let i = 0; i < j; i++) {
      if (overlap(boxes[i], box, method) > threshold) return false;
    }
    return true;
  });
}

function overlap(a, b, method) {
  const width = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const height = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const intersection = width * height;
  const areaA = (a.x2 - a.x1) * (a.y2 - a.y1);
  const areaB = (b.x2 - b.x1) * (b.y2 - b.y1);
  if (method === "min") return intersection / Math.min(areaA, areaB);
  return intersection / (areaA + areaB - intersection);
}

// ---------------------------------------------------------------- output

function faceToJson({ x1, y1, x2, y2, score, landmarks }) {
  const point = (k) => [roundHalfEven(landmarks[k]), roundHalfEven(landmarks[k + 5])];
  return {
    box: [x1, y1, x2 - x1, y2 - y1].map(roundHalfEven),
    confidence: score,
    keypoints: {
      left_eye: point(0),
      right_eye: point(1),
      nose: point(2),
      mouth_left: point(3),
      mouth_right: point(4),
    },
  };
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

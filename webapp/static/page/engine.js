// The browser edition's predictor: model.predictor.Predictor and the CAM and occlusion maps of
// model.explain, step for step, on the ONNX files and manifest of `python -m model.export`.
// Every number that decides a result (resizing, alignment, rounding) follows the Python code,
// so the two agree (tests/test_static.py). No DOM: pixels in, JSON out.

import { detectFaces } from "./mtcnn.js";
import {
  affineTransform,
  crop,
  invert3x3,
  resizeBilinear,
  roundHalfEven,
  similarityTransform,
} from "./imaging.js";
import { mapFace, retryView } from "./retry.js";

const TASKS = ["age", "gender"];
const BATCH = 64;

/** The engine: loads every network named in the manifest; `onProgress(done, total)`. */
export async function createEngine(ort, base, onProgress = () => {}) {
  const manifest = await (await fetch(`${base}manifest.json`)).json();
  const files = [
    ...Object.entries(manifest.detector.networks).map(([name, entry]) => ["detector", name, entry]),
    ...Object.entries(manifest.variants).flatMap(([variant, { models }]) =>
      TASKS.map((task) => [variant, task, models[task]]),
    ),
  ];
  const sessions = { detector: {} };
  let done = 0;
  onProgress(done, files.length);
  for (const [group, name, entry] of files) {
    const session = await ort.InferenceSession.create(`${base}${entry.file}`, {
      executionProviders: ["wasm"],
    });
    (sessions[group] ??= {})[name] = session;
    onProgress(++done, files.length);
  }
  return new Engine(ort, manifest, sessions);
}

class Engine {
  constructor(ort, manifest, sessions) {
    this.ort = ort;
    this.manifest = manifest;
    this.sessions = sessions;
    this.template = manifest.chip_template;
  }

  /** Every face of a photo (ImageData-like RGBA, upright) for both variants: detection runs
   * once. Returns {photo, image, faces: [{box, confidence, landmarks}], variants: {variant:
   * {result (the /predict JSON), inputs (each face's model input)}}}. */
  async analyse(photo) {
    const image = shrinkToMaxSide(photo, this.manifest.max_side);
    const { faces: found, guess } = await this.detect(image);
    const faces = found.slice(0, MAX_FACES);
    const variants = {};
    for (const variant of Object.keys(this.manifest.variants)) {
      variants[variant] = await this.predictVariant(photo, image, faces, guess, variant);
    }
    return { photo, image, faces, variants };
  }

  /** {faces, guess} of an image (faces.detect.FaceDetector.detect_with_guesses): its faces,
   * largest first, in its pixels, where none is found those of its retry views (retry.js)
   * scoring at least detector.retry_min_confidence, mapped back to the image; and where there
   * is still none, the most confident face the retry views rejected that scores at least
   * detector.guess_min_confidence (else null). */
  async detect(image) {
    const detector = this.manifest.detector;
    const detectShrunk = async (view, size = 1) => {
      const scale = Math.min(1, detector.max_side / Math.max(view.width, view.height)) * size;
      const small =
        scale < 1
          ? resizeBilinear(
              view,
              Math.max(1, roundHalfEven(view.width * scale)),
              Math.max(1, roundHalfEven(view.height * scale)),
            )
          : view;
      const found = await detectFaces(small, this.sessions.detector, this.ort);
      const names = detector.landmarks;
      const faces = found.map(({ box, confidence, keypoints }) => ({
        x: box[0] / scale,
        y: box[1] / scale,
        width: box[2] / scale,
        height: box[3] / scale,
        confidence,
        landmarks: names.map((name) => [keypoints[name][0] / scale, keypoints[name][1] / scale]),
      }));
      return faces.sort((a, b) => b.width * b.height - a.width * a.height);
    };
    let faces = await detectShrunk(image);
    let guess = null;
    const views = new Map(); // each tilt's view serves at both sizes
    for (const { tilt, size } of detector.retry_views) {
      if (faces.length) break;
      if (!views.has(tilt)) views.set(tilt, retryView(image, tilt));
      const { view, toImage } = views.get(tilt);
      const mapped = (await detectShrunk(view, size)).map((face) => mapFace(face, toImage));
      faces = mapped.filter((face) => face.confidence >= detector.retry_min_confidence);
      for (const face of mapped) {
        const best = guess ? guess.confidence : -1;
        if (face.confidence >= detector.guess_min_confidence && face.confidence > best) guess = face;
      }
    }
    return { faces, guess: faces.length ? null : guess };
  }

  async predictVariant(photo, image, faces, guess, variant) {
    const size = this.manifest.variants[variant].models.age.size;
    const photoSize = [photo.width, photo.height];
    let boxes = faces;
    let inputs;
    let spans;
    let message = null;
    let framing = "aligned face";
    if (!faces.length && variant === "cropped") {
      const result = { variant, image_size: photoSize, faces: [], message: this.manifest.no_face_message };
      return { result, inputs: [] };
    }
    if (!faces.length && guess) {
      boxes = [guess];
      framing = "best guess";
      message = this.manifest.best_guess_message;
    }
    if (boxes.length) {
      inputs = boxes.map((face) => this.faceInput(image, face, variant, size));
      spans = boxes.map((face) => this.inputSpan(face, variant));
    } else {
      boxes = [{ x: 0, y: 0, width: image.width, height: image.height, confidence: 0 }];
      inputs = [resizeBilinear(image, size, size)];
      spans = [Infinity];
      framing = "whole picture";
      message = this.manifest.whole_picture_message;
    }
    const views = this.manifest.views;
    const answers = await this.outputs(variant, "age", inputs, views);
    const female = await this.outputs(variant, "gender", inputs, views);
    const calibration = this.manifest.variants[variant].calibration;
    const ages = answers.map((answer) => shownAge(calibration, answer));
    const scale = photo.width / image.width;
    const described = boxes.map((box, i) => {
      const [low80, high80] = interval(calibration, ages[i], 0.8, spans[i]);
      const [low90, high90] = interval(calibration, ages[i], 0.9, spans[i]);
      const isFemale = female[i] >= 0.5;
      const detected = box.confidence > 0;
      return {
        box: photoBox(box, scale, photoSize),
        age: round(ages[i], 1),
        age_interval_80: [round(low80, 1), round(high80, 1)],
        age_interval_90: [round(low90, 1), round(high90, 1)],
        age_group: ageGroup(this.manifest.age_groups, ages[i]),
        gender: isFemale ? "female" : "male",
        gender_probability: round(isFemale ? female[i] : 1 - female[i], 4),
        probability_female: round(female[i], 4),
        detection_confidence: detected ? round(box.confidence, 4) : null,
        framing,
      };
    });
    return { result: { variant, image_size: photoSize, faces: described, message }, inputs };
  }

  /** One face's model input (faces.align.align_face, then chip_inputs). */
  faceInput(image, face, variant, size) {
    const chip = alignFace(image, face, this.template, this.manifest.max_shrink_before_warp);
    if (variant === "full") return resizeBilinear(chip, size, size);
    const [left, top, right, bottom] = cropSquare(this.template.face_box, this.manifest.crop_scale);
    return resizeBilinear(crop(chip, left, top, right, bottom), size, size);
  }

  /** faces.align.input_span: how many of the photo's pixels the variant's model input spans. */
  inputSpan(face, variant) {
    const transform = similarityTransform(face.landmarks, this.template.landmarks);
    const perChipPixel = 1 / Math.hypot(transform[0][0], transform[1][0]);
    if (variant === "full") return this.template.size * perChipPixel;
    const [left, , right] = cropSquare(this.template.face_box, this.manifest.crop_scale);
    return (right - left) * perChipPixel;
  }

  /** A model's output for faces (ImageData-like, S x S), averaged over `views`
   * (model.networks.predict_outputs). */
  async outputs(variant, task, faces, views) {
    const seen = views.flatMap((view) => faces.map((face) => viewFace(face, view)));
    const raw = await this.run(variant, task, seen, "output");
    return faces.map((_, i) => views.reduce((sum, _view, v) => sum + raw[v * faces.length + i], 0) / views.length);
  }

  /** Runs a face model on float faces (Float32Array S*S*3 each) in batches: the `output`
   * values, or with `name` "cam" the maps (one Float32Array S*S each). */
  async run(variant, task, faces, name) {
    const session = this.sessions[variant][task];
    const size = this.manifest.variants[variant].models[task].size;
    const pixels = size * size;
    const values = [];
    for (let start = 0; start < faces.length; start += BATCH) {
      const chunk = faces.slice(start, start + BATCH);
      const batch = new Float32Array(chunk.length * pixels * 3);
      chunk.forEach((face, i) => batch.set(face instanceof Float32Array ? face : toFloat(face), i * pixels * 3));
      const tensor = new this.ort.Tensor("float32", batch, [chunk.length, size, size, 3]);
      const out = (await session.run({ faces: tensor }))[name].data;
      if (name === "cam") chunk.forEach((_, i) => values.push(out.slice(i * pixels, (i + 1) * pixels)));
      else values.push(...out);
    }
    return values;
  }

  /** The map of `method` ("cam" or "occlusion") for one face input of a variant, for both
   * tasks: {age: map, gender: map}, each {values (Float32Array S*S), size, signed, units,
   * meaning, ends}, as model.explain.Explainer gives them. */
  async explain(variant, input, method) {
    const maps = {};
    for (const task of TASKS) {
      maps[task] = method === "cam" ? await this.cam(variant, task, input) : await this.occlusion(variant, task, input);
    }
    return maps;
  }

  async cam(variant, task, input) {
    const [values] = await this.run(variant, task, [toFloat(input)], "cam");
    return { values: normalise(values), size: input.width, signed: false, units: null,
             meaning: "relative importance", ends: ["low", "high"] }; // prettier-ignore
  }

  /** model.explain.Explainer.occlusion: a grey square slides over the face; each pixel gets
   * the mean change of the estimate (face and its mirror image) over the squares covering it. */
  async occlusion(variant, task, input) {
    const { patch: share, grey, views } = this.manifest.occlusion;
    const size = input.width;
    const patch = Math.max(2, roundHalfEven(size * share));
    const stride = Math.max(1, Math.floor(patch / 2));
    const starts = patchStarts(size, patch, stride);
    const corners = starts.flatMap((top) => starts.map((left) => [top, left]));
    const face = toFloat(input);
    const covered = corners.map(([top, left]) => {
      const copy = face.slice();
      for (let y = top; y < top + patch; y++) copy.fill(grey, (y * size + left) * 3, (y * size + left + patch) * 3);
      return copy;
    });
    const [original, ...changed] = await this.outputs(variant, task, [face, ...covered], views);
    const unit = task === "age" ? 1 : 100;
    const heat = new Float64Array(size * size);
    const count = new Float64Array(size * size);
    corners.forEach(([top, left], i) => {
      const delta = (changed[i] - original) * unit;
      for (let y = top; y < top + patch; y++) {
        for (let x = left; x < left + patch; x++) {
          heat[y * size + x] += delta;
          count[y * size + x] += 1;
        }
      }
    });
    const values = Float32Array.from(heat, (value, i) => value / count[i]);
    return { values, size, signed: true, ...this.manifest.signed_words[task].occlusion };
  }
}

const MAX_FACES = 8;

function round(value, digits) {
  const factor = 10 ** digits;
  return roundHalfEven(value * factor) / factor;
}

/** load_image's shrink of a photo to at most `maxSide` pixels on its longer side. */
function shrinkToMaxSide(photo, maxSide) {
  const longer = Math.max(photo.width, photo.height);
  if (longer <= maxSide) return photo;
  const scale = maxSide / longer;
  return resizeBilinear(
    photo,
    Math.max(1, roundHalfEven(photo.width * scale)),
    Math.max(1, roundHalfEven(photo.height * scale)),
  );
}

/** faces.align.align_face: the face warped into a chip of the template's framing. */
export function alignFace(image, face, template, maxShrink) {
  let landmarks = face.landmarks;
  let transform = similarityTransform(landmarks, template.landmarks);
  if (transform === null) throw new Error("cannot fit a similarity transform to the landmarks");
  const scale = Math.hypot(transform[0][0], transform[1][0]);
  if (1 / scale > maxShrink) {
    [image, landmarks] = shrinkAround(image, landmarks, transform, scale, template.size);
    transform = similarityTransform(landmarks, template.landmarks);
  }
  const inverse = invert3x3(transform);
  const matrix = [...inverse[0], ...inverse[1]];
  return affineTransform(image, template.size, template.size, matrix);
}

function shrinkAround(image, landmarks, transform, scale, chipSize) {
  const inverse = invert3x3(transform);
  const covered = [[0, 0], [1, 0], [0, 1], [1, 1]].map(([u, v]) => [
    inverse[0][0] * u * chipSize + inverse[0][1] * v * chipSize + inverse[0][2],
    inverse[1][0] * u * chipSize + inverse[1][1] * v * chipSize + inverse[1][2],
  ]); // prettier-ignore
  const xs = covered.map((p) => p[0]);
  const ys = covered.map((p) => p[1]);
  const left = Math.max(Math.floor(Math.min(...xs)) - 2, 0);
  const top = Math.max(Math.floor(Math.min(...ys)) - 2, 0);
  const right = Math.min(Math.ceil(Math.max(...xs)) + 2, image.width);
  const bottom = Math.min(Math.ceil(Math.max(...ys)) + 2, image.height);
  if (right <= left || bottom <= top) return [image, landmarks];
  const region = crop(image, left, top, right, bottom);
  const width = Math.max(1, roundHalfEven(region.width * scale));
  const height = Math.max(1, roundHalfEven(region.height * scale));
  const shrunk = resizeBilinear(region, width, height);
  const factors = [width / region.width, height / region.height];
  return [shrunk, landmarks.map(([x, y]) => [(x - left) * factors[0], (y - top) * factors[1]])];
}

/** faces.detect.crop_square: the square (left, top, right, bottom) cut around a box. */
function cropSquare([x, y, width, height], cropScale) {
  const side = cropScale * Math.sqrt(width * height);
  const left = roundHalfEven(x + width / 2 - side / 2);
  const top = roundHalfEven(y + height / 2 - side / 2);
  const sidePixels = Math.max(1, roundHalfEven(side));
  return [left, top, left + sidePixels, top + sidePixels];
}

/** model.networks.view_faces for one face: zoomed about its centre (bilinear, half-pixel
 * centres, as TensorFlow's resize), shifted with mirrored borders, flipped. Float32 S*S*3. */
export function viewFace(face, view) {
  const size = face instanceof Float32Array ? Math.round(Math.sqrt(face.length / 3)) : face.width;
  let pixels = face instanceof Float32Array ? face : toFloat(face);
  if (view.zoom !== 1) pixels = zoomed(pixels, size, view.zoom);
  const reflect = (k) => (k < 0 ? -k - 1 : k >= size ? 2 * size - k - 1 : k);
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const sourceY = reflect(y - view.shift_y);
    for (let x = 0; x < size; x++) {
      const shiftedX = reflect(x - view.shift_x);
      const sourceX = view.mirror ? reflect(size - 1 - x - view.shift_x) : shiftedX;
      const from = (sourceY * size + sourceX) * 3;
      const to = (y * size + x) * 3;
      out[to] = pixels[from];
      out[to + 1] = pixels[from + 1];
      out[to + 2] = pixels[from + 2];
    }
  }
  return out;
}

function zoomed(pixels, size, zoom) {
  const large = roundHalfEven(size * zoom);
  const offset = Math.floor((large - size) / 2);
  const ratio = size / large;
  const sample = (position) => {
    const source = Math.min(Math.max((position + 0.5) * ratio - 0.5, 0), size - 1);
    const low = Math.floor(source);
    return [low, Math.min(low + 1, size - 1), source - low];
  };
  const out = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const [y0, y1, dy] = sample(y + offset);
    for (let x = 0; x < size; x++) {
      const [x0, x1, dx] = sample(x + offset);
      for (let c = 0; c < 3; c++) {
        const top = pixels[(y0 * size + x0) * 3 + c] * (1 - dx) + pixels[(y0 * size + x1) * 3 + c] * dx;
        const bottom = pixels[(y1 * size + x0) * 3 + c] * (1 - dx) + pixels[(y1 * size + x1) * 3 + c] * dx;
        out[(y * size + x) * 3 + c] = top * (1 - dy) + bottom * dy;
      }
    }
  }
  return out;
}

/** RGBA ImageData-like -> Float32Array of RGB values in [0, 255]. */
export function toFloat(image) {
  const out = new Float32Array(image.width * image.height * 3);
  for (let i = 0, j = 0; i < out.length; i += 3, j += 4) {
    out[i] = image.data[j];
    out[i + 1] = image.data[j + 1];
    out[i + 2] = image.data[j + 2];
  }
  return out;
}

function normalise(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  return Float32Array.from(values, (value) => (high > low ? (value - low) / (high - low) : 0));
}

function patchStarts(size, patch, stride) {
  const starts = [];
  for (let start = 0; start <= size - patch; start += stride) starts.push(start);
  if (starts[starts.length - 1] !== size - patch) starts.push(size - patch);
  return starts;
}

/** model.calibration.AgeCalibration.age for one answer of the age network (np.interp). */
function shownAge(calibration, answer) {
  const knots = calibration.network_quantiles;
  const ages = calibration.label_quantiles;
  if (!knots.length) return answer;
  if (answer <= knots[0]) return ages[0];
  const last = knots.length - 1;
  if (answer >= knots[last]) return ages[last];
  const right = knots.findIndex((knot) => knot > answer);
  const share = (answer - knots[right - 1]) / (knots[right] - knots[right - 1]);
  return ages[right - 1] + share * (ages[right] - ages[right - 1]);
}

/** model.calibration.AgeCalibration.interval for one shown age and its face's input span. */
function interval(calibration, age, level, span) {
  const { edges, sides } = calibration;
  const below = edges.filter((edge) => edge <= age).length; // searchsorted(side="right")
  const bin = Math.min(Math.max(below - 1, 0), edges.length - 2);
  const key = String(level);
  let { lower, upper } = calibration;
  if (sides && sides.length && span < calibration.input_size) {
    const table = Math.max(sides.filter((side) => side <= span).length - 1, 0);
    [lower, upper] = [calibration.side_lower[table], calibration.side_upper[table]];
  }
  return [Math.max(age + lower[key][bin], 0), Math.max(age + upper[key][bin], 0)];
}

/** model.predictor.adience_group: the nearest age group. */
function ageGroup(groups, age) {
  const distances = groups.map(({ low, high }) => Math.max(low - age, 0, age - high));
  return groups[distances.indexOf(Math.min(...distances))].name;
}

/** model.predictor._photo_box: a box scaled to the photo's pixels and clipped to it. */
function photoBox(box, scale, [width, height]) {
  const left = Math.max(0, roundHalfEven(box.x * scale));
  const top = Math.max(0, roundHalfEven(box.y * scale));
  const right = Math.min(width, roundHalfEven((box.x + box.width) * scale));
  const bottom = Math.min(height, roundHalfEven((box.y + box.height) * scale));
  return [left, top, right - left, bottom - top];
}

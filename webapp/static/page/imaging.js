// Pillow-exact image geometry for the browser edition.
//
// Images are ImageData-like objects {width, height, data} holding RGBA bytes.
// Only the RGB channels are read; every output pixel has alpha 255.
// Each function reproduces the arithmetic of Pillow 12.3 (src/libImaging
// Resample.c, Geometry.c, Crop.c, PIL/Image.py and PIL/ImageOps.py) so that
// outputs are byte-identical to the Python pipeline.

const CHANNELS = 3;

// Fixed-point resampling: 8 bits of result, 2 spare bits for overshoot.
const PRECISION_BITS = 32 - 8 - 2;
const FIXED_ONE = 2 ** PRECISION_BITS;
const FIXED_HALF = 2 ** (PRECISION_BITS - 1);

const BILINEAR_SUPPORT = 1.0;

// PIL.Image.resize resamples vertically first for images this many times
// taller than wide (when shrinking the height).
const TALL_IMAGE_RATIO = 100;

export function blankImage(width, height) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width, height, data };
}

function copyImage(image) {
  const out = blankImage(image.width, image.height);
  const { data } = image;
  for (let i = 0; i < data.length; i += 4) {
    out.data[i] = data[i];
    out.data[i + 1] = data[i + 1];
    out.data[i + 2] = data[i + 2];
  }
  return out;
}

// --- resize ---------------------------------------------------------------

/** Image.resize((width, height), Image.Resampling.BILINEAR) on an RGB image. */
export function resizeBilinear(image, width, height) {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError("height and width must be positive integers");
  }
  if (width === image.width && height === image.height) return copyImage(image);

  const resizeWidth = (im) => resampleRows(im, bilinearWeights(im.width, width));
  const resizeHeight = (im) => resampleColumns(im, bilinearWeights(im.height, height));
  const passes = [];
  if (width !== image.width) passes.push(resizeWidth);
  if (height !== image.height) passes.push(resizeHeight);
  if (image.height > image.width * TALL_IMAGE_RATIO && height < image.height) passes.reverse();
  return passes.reduce((im, pass) => pass(im), image);
}

// Resample.c precompute_coeffs + normalize_coeffs_8bpc for the bilinear
// (triangle) filter, widened by the downscale factor.
function bilinearWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = BILINEAR_SUPPORT * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const invFilterScale = 1.0 / filterScale;
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const row = new Float64Array(taps);

  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    const start = Math.max(0, Math.trunc(center - support + 0.5));
    const count = Math.min(inSize, Math.trunc(center + support + 0.5)) - start;
    let total = 0.0;
    for (let i = 0; i < count; i++) {
      row[i] = triangle((i + start - center + 0.5) * invFilterScale);
      total += row[i];
    }
    for (let i = 0; i < count; i++) {
      const weight = total !== 0.0 ? row[i] / total : row[i];
      weights[out * taps + i] = toFixedPoint(weight);
    }
    starts[out] = start;
    counts[out] = count;
  }
  return { starts, counts, weights, taps };
}

function triangle(x) {
  const distance = Math.abs(x);
  return distance < 1.0 ? 1.0 - distance : 0.0;
}

function toFixedPoint(weight) {
  return Math.trunc(weight < 0 ? -0.5 + weight * FIXED_ONE : 0.5 + weight * FIXED_ONE);
}

function clipFixedPoint(sum) {
  const value = sum >> PRECISION_BITS;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

function resampleRows(image, { starts, counts, weights, taps }) {
  const width = starts.length;
  const out = blankImage(width, image.height);
  const src = image.data;
  for (let y = 0; y < image.height; y++) {
    const rowBase = y * image.width;
    for (let x = 0; x < width; x++) {
      const first = (rowBase + starts[x]) * 4;
      const target = (y * width + x) * 4;
      for (let c = 0; c < CHANNELS; c++) {
        let sum = FIXED_HALF;
        for (let i = 0; i < counts[x]; i++) sum += src[first + i * 4 + c] * weights[x * taps + i];
        out.data[target + c] = clipFixedPoint(sum);
      }
    }
  }
  return out;
}

function resampleColumns(image, { starts, counts, weights, taps }) {
  const height = starts.length;
  const stride = image.width * 4;
  const out = blankImage(image.width, height);
  const src = image.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < image.width; x++) {
      const first = starts[y] * stride + x * 4;
      const target = (y * image.width + x) * 4;
      for (let c = 0; c < CHANNELS; c++) {
        let sum = FIXED_HALF;
        for (let i = 0; i < counts[y]; i++) sum += src[first + i * stride + c] * weights[y * taps + i];
        out.data[target + c] = clipFixedPoint(sum);
      }
    }
  }
  return out;
}

// --- crop -----------------------------------------------------------------

/** Image.crop((left, top, right, bottom)); area outside the image is black. */
export function crop(image, left, top, right, bottom) {
  if (right < left) throw new RangeError("Coordinate 'right' is less than 'left'");
  if (bottom < top) throw new RangeError("Coordinate 'lower' is less than 'upper'");
  const [x0, y0, x1, y1] = [left, top, right, bottom].map(roundHalfEven);
  const out = blankImage(Math.max(0, x1 - x0), Math.max(0, y1 - y0));
  const fromX = Math.max(x0, 0);
  const toX = Math.min(x1, image.width);
  if (toX <= fromX) return out;
  for (let y = Math.max(y0, 0); y < Math.min(y1, image.height); y++) {
    const source = image.data.subarray((y * image.width + fromX) * 4, (y * image.width + toX) * 4);
    out.data.set(source, ((y - y0) * out.width + (fromX - x0)) * 4);
  }
  for (let i = 3; i < out.data.length; i += 4) out.data[i] = 255;
  return out;
}

/** Python's round() and numpy.round: halves go to the even neighbour (never -0). */
export function roundHalfEven(value) {
  const rounded = Math.round(value);
  return (rounded - value === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded) + 0;
}

// --- contrast -------------------------------------------------------------

/**
 * ImageOps.autocontrast(image, cutoff) on an RGB image: each channel's
 * histogram loses `cutoff` percent of its pixels at each end, and what is
 * left is stretched to 0-255 by a lookup table (PIL/ImageOps.py).
 */
export function autocontrast(image, cutoff) {
  const { data } = image;
  const pixels = image.width * image.height;
  const tables = [];
  for (let c = 0; c < CHANNELS; c++) {
    const histogram = new Array(256).fill(0);
    for (let i = 0; i < pixels; i++) histogram[data[i * 4 + c]] += 1;
    if (cutoff) {
      const cut = Math.floor((pixels * cutoff) / 100); // int(n * cutoff // 100)
      trimHistogram(histogram, cut, 0, 1);
      trimHistogram(histogram, cut, 255, -1);
    }
    tables.push(stretchTable(histogram));
  }
  const out = blankImage(image.width, image.height);
  for (let i = 0; i < data.length; i += 4) {
    for (let c = 0; c < CHANNELS; c++) out.data[i + c] = tables[c][data[i + c]];
  }
  return out;
}

// Removes `cut` pixels from one end of a histogram, walking from `start` by
// `step`, as ImageOps.autocontrast does.
function trimHistogram(histogram, cut, start, step) {
  for (let level = start; level >= 0 && level < 256; level += step) {
    if (cut > histogram[level]) {
      cut -= histogram[level];
      histogram[level] = 0;
    } else {
      histogram[level] -= cut;
      cut = 0;
    }
    if (cut <= 0) break;
  }
}

// The lookup table taking a channel's lowest level left to 0 and its highest
// to 255; the identity where they meet.
function stretchTable(histogram) {
  let low = 0;
  while (low < 255 && !histogram[low]) low++;
  let high = 255;
  while (high > 0 && !histogram[high]) high--;
  const table = new Uint8Array(256);
  if (high <= low) {
    for (let level = 0; level < 256; level++) table[level] = level;
    return table;
  }
  const scale = 255.0 / (high - low);
  const offset = -low * scale;
  for (let level = 0; level < 256; level++) {
    const value = Math.trunc(level * scale + offset); // Python's int()
    table[level] = value < 0 ? 0 : value > 255 ? 255 : value;
  }
  return table;
}

// --- affine warp ----------------------------------------------------------

/**
 * image.transform((width, height), Image.Transform.AFFINE, data=matrix,
 * resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0)).
 * matrix = [a, b, c, d, e, f] maps an output pixel centre (x, y) to the
 * input point (a x + b y + c, d x + e y + f).
 */
export function affineTransform(image, width, height, matrix) {
  const [a, b, c, d, e, f] = matrix;
  const out = blankImage(width, height);
  for (let y = 0; y < height; y++) {
    const yCentre = y + 0.5;
    for (let x = 0; x < width; x++) {
      const xCentre = x + 0.5;
      const sourceX = a * xCentre + b * yCentre + c;
      const sourceY = d * xCentre + e * yCentre + f;
      sampleBilinear(image, sourceX, sourceY, out.data, (y * width + x) * 4);
    }
  }
  return out;
}

// Geometry.c bilinear_filter32RGB. Points outside the image leave the
// (black) fill; neighbours past the edge are clamped to it.
function sampleBilinear(image, sourceX, sourceY, target, offset) {
  const { width, height, data } = image;
  if (sourceX < 0 || sourceX >= width || sourceY < 0 || sourceY >= height) return;
  const xin = sourceX - 0.5;
  const yin = sourceY - 0.5;
  const x = Math.floor(xin);
  const y = Math.floor(yin);
  const dx = xin - x;
  const dy = yin - y;
  const left = clamp(x, width) * 4;
  const right = clamp(x + 1, width) * 4;
  const upperRow = clamp(y, height) * width * 4;
  const hasLowerRow = y + 1 >= 0 && y + 1 < height;
  const lowerRow = (y + 1) * width * 4;
  for (let c = 0; c < CHANNELS; c++) {
    const upper = lerp(data[upperRow + left + c], data[upperRow + right + c], dx);
    const lower = hasLowerRow ? lerp(data[lowerRow + left + c], data[lowerRow + right + c], dx) : upper;
    // C casts the double to UINT8 (truncation); Uint8ClampedArray would round.
    target[offset + c] = Math.trunc(lerp(upper, lower, dy));
  }
}

function clamp(index, size) {
  return index < 0 ? 0 : index < size ? index : size - 1;
}

function lerp(from, to, fraction) {
  return from + (to - from) * fraction;
}

// --- similarity fit -------------------------------------------------------

/**
 * Least-squares rotation + uniform scale + translation taking source points
 * onto target points, as skimage SimilarityTransform.from_estimate(source,
 * target).params: [[a, -b, tx], [b, a, ty], [0, 0, 1]].
 * Returns null where scikit-image reports a failed estimation.
 */
export function similarityTransform(source, target) {
  const count = source.length;
  if (count === 0 || count !== target.length) return null;
  const [sourceMeanX, sourceMeanY] = mean(source);
  const [targetMeanX, targetMeanY] = mean(target);
  let spread = 0;
  let xx = 0, xy = 0, yx = 0, yy = 0; // cross-covariance, target rows x source columns
  for (let i = 0; i < count; i++) {
    const sx = source[i][0] - sourceMeanX;
    const sy = source[i][1] - sourceMeanY;
    const tx = target[i][0] - targetMeanX;
    const ty = target[i][1] - targetMeanY;
    spread += sx * sx + sy * sy;
    xx += tx * sx;
    xy += tx * sy;
    yx += ty * sx;
    yy += ty * sy;
  }
  if (spread === 0 || (xx === 0 && xy === 0 && yx === 0 && yy === 0)) return null;
  const a = (xx + yy) / spread;
  const b = (yx - xy) / spread;
  return [
    [a, -b, targetMeanX - (a * sourceMeanX - b * sourceMeanY)],
    [b, a, targetMeanY - (b * sourceMeanX + a * sourceMeanY)],
    [0, 0, 1],
  ];
}

function mean(points) {
  let x = 0;
  let y = 0;
  for (const point of points) {
    x += point[0];
    y += point[1];
  }
  return [x / points.length, y / points.length];
}

/** Inverse of a 3x3 row-major matrix (array of rows); null if singular. */
export function invert3x3(m) {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const cofactor00 = e * i - f * h;
  const cofactor01 = f * g - d * i;
  const cofactor02 = d * h - e * g;
  const determinant = a * cofactor00 + b * cofactor01 + c * cofactor02;
  if (determinant === 0 || !Number.isFinite(determinant)) return null;
  const s = 1 / determinant;
  return [
    [cofactor00 * s, (c * h - b * i) * s, (b * f - c * e) * s],
    [cofactor01 * s, (a * i - c * g) * s, (c * d - a * f) * s],
    [cofactor02 * s, (b * g - a * h) * s, (a * e - b * d) * s],
  ];
}

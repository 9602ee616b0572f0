// The retry views of faces.detect.FaceDetector: where MTCNN finds no face, it looks again
// at the photo with its contrast stretched, turned by the tilts of the manifest's
// detector.retry_views (the whole photo kept; engine.js detects each at its size).
// _retry_view and _mapped, step for step, with the same double arithmetic, so the views are
// byte-identical to Pillow's.

import { affineTransform, autocontrast } from "./imaging.js";

/** ImageOps.autocontrast's cutoff (percent at each end) used for the retry views. */
const CUTOFF = 1;

/** _retry_view: the image (ImageData-like) with its contrast stretched and turned by `tilt`
 * degrees, and toImage, the 2x3 matrix [[a, b, c], [d, e, f]] taking the view's pixels back
 * to the image's. */
export function retryView(image, tilt) {
  const stretched = autocontrast(image, CUTOFF);
  if (tilt === 0) return { view: stretched, toImage: [[1, 0, 0], [0, 1, 0]] };
  const radians = tilt * (Math.PI / 180); // np.radians
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  const { width, height } = stretched;
  const viewWidth = Math.ceil(Math.abs(width * cos) + Math.abs(height * sin));
  const viewHeight = Math.ceil(Math.abs(width * sin) + Math.abs(height * cos));
  const toImage = [
    [cos, sin, width / 2 - (cos * viewWidth) / 2 - (sin * viewHeight) / 2],
    [-sin, cos, height / 2 + (sin * viewWidth) / 2 - (cos * viewHeight) / 2],
  ];
  const view = affineTransform(stretched, viewWidth, viewHeight, [...toImage[0], ...toImage[1]]);
  return { view, toImage };
}

/** _mapped: a face found in a retry view ({x, y, width, height, confidence, landmarks}), in
 * the image's pixels: its landmarks exactly, its box as the upright box around the turned
 * one. */
export function mapFace(face, toImage) {
  const [[a, b, c], [d, e, f]] = toImage;
  const map = ([x, y]) => [x * a + y * b + c, x * d + y * e + f];
  const right = face.x + face.width;
  const bottom = face.y + face.height;
  const corners = [[face.x, face.y], [right, face.y], [face.x, bottom], [right, bottom]].map(map);
  const xs = corners.map((point) => point[0]);
  const ys = corners.map((point) => point[1]);
  const [left, top] = [Math.min(...xs), Math.min(...ys)];
  const landmarks = face.landmarks ? face.landmarks.map(map) : face.landmarks;
  return {
    x: left,
    y: top,
    width: Math.max(...xs) - left,
    height: Math.max(...ys) - top,
    confidence: face.confidence,
    landmarks,
  };
}

// The page's script API, for the page itself, for tests and for anyone embedding it:
//
//   await window.ageGender.ready;                          // the models are loaded
//   const json = await window.ageGender.predict(image, "cropped");   // or "full"
//
// `image`: an <img>, <video> or <canvas> element, an ImageBitmap or ImageData, a Blob (a
// file), or a same-origin URL. The JSON is the Gradio demo's /predict answer. Nothing leaves
// the page: the photo is decoded, and every network runs, here (onnxruntime-web, WebAssembly).

import * as ort from "./vendor/ort.wasm.min.mjs";
import { createEngine } from "./engine.js";

const MAX_PIXELS = 120_000_000; // faces.images.MAX_PIXELS

ort.env.wasm.wasmPaths = new URL("./vendor/", import.meta.url).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency) : 1;
ort.env.wasm.proxy = true; // inference in a worker: the page stays responsive during the maps

/** Any image source -> ImageData (RGBA), upright, transparent parts over white. Throws an
 * Error whose message a user can read. */
export async function decode(source) {
  if (source instanceof ImageData) return source;
  if (typeof source === "string") {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`Could not open ${source} (${response.status}).`);
    source = await response.blob();
  }
  if (source instanceof Blob) {
    if (source.size === 0) throw new Error("The file is empty (0 bytes).");
    try {
      source = await createImageBitmap(source, {
        colorSpaceConversion: "none",
        imageOrientation: "from-image",
        premultiplyAlpha: "none",
      });
    } catch {
      throw new Error("This file is not an image in a format we can read, or it is damaged.");
    }
  }
  const width = source.naturalWidth || source.videoWidth || source.width;
  const height = source.naturalHeight || source.videoHeight || source.height;
  if (!width || !height) throw new Error("The image has no pixels.");
  if (width * height > MAX_PIXELS) {
    throw new Error(`The image is too large (${width}x${height} pixels); the limit is 120 megapixels.`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, width, height);
  context.drawImage(source, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

let progress = { done: 0, total: 1 };
const listeners = new Set();
const ready = createEngine(ort, new URL("./models/", import.meta.url).href, (done, total) => {
  progress = { done, total };
  listeners.forEach((listener) => listener(progress));
});

/** Everything about one photo, for both variants (see Engine.analyse). */
async function analyse(image) {
  const engine = await ready;
  return engine.analyse(await decode(image));
}

async function predict(image, variant = "cropped") {
  if (!["cropped", "full"].includes(variant)) throw new Error(`variant must be "cropped" or "full", not ${variant}`);
  return (await analyse(image)).variants[variant].result;
}

/** The maps of `method` ("cam" or "occlusion") of face `index` of an analysis. */
async function explain(analysis, variant, index, method) {
  const engine = await ready;
  return engine.explain(variant, analysis.variants[variant].inputs[index], method);
}

window.ageGender = {
  ready: ready.then(() => true),
  predict,
  analyse,
  explain,
  decode,
  get progress() {
    return progress;
  },
  onProgress(listener) {
    listeners.add(listener);
    listener(progress);
  },
  manifest: ready.then((engine) => engine.manifest),
};

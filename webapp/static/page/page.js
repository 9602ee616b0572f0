// The browser edition's interface: photo in (file, drop, paste, example, camera), every face
// boxed and labelled as the Gradio demo does, a table of faces, and the CAM and occlusion maps of
// the selected face drawn as model/render.py draws them. Everything it needs comes from
// window.ageGender (api.js); nothing leaves the page.
//
// For tests: body[data-state] is "loading", "ready", "busy" (an analysis or a map is being
// computed) or "error" (the models could not be loaded); canvas#photo is the labelled photo;
// #faces tbody tr[data-face-index] the faces; canvas[data-task][data-method] the maps, with
// data-ready="true" once drawn; #message the result's message; #error the last error.

import { roundHalfEven } from "./imaging.js";

const EXAMPLE_DIR = "examples/";
const TASKS = ["age", "gender"];
const METHODS = ["cam", "occlusion"];
const VARIANT_NAMES = { cropped: "cropped-face", full: "full-image" };
const MAP_SIZE = 256; // model.render.DISPLAY_SIZE
const LIVE_SIDE = 320; // webapp.live.DETECT_SIDE
const PHOTO_MIN_SIDE = 800; // the photo canvas is drawn at least this large, so labels stay sharp
const PHOTO_MAX_SIDE = 1600;
const BOX_COLOUR = "rgb(255, 200, 0)"; // model.render.annotate
const SELECTED_COLOUR = "#1d4ed8";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** One card per method, from the page's template: its maps carry data-task and data-method. */
function addMethodCards() {
  const template = $("#method-card");
  for (const method of METHODS) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.dataset.method = method;
    card.setAttribute("aria-labelledby", `method-${method}-title`);
    $(".method-label", card).id = `method-${method}-title`;
    for (const figure of $$("figure.map", card)) {
      const task = figure.dataset.task;
      for (const part of $$("canvas, .colour-bar", figure)) {
        part.dataset.task = task;
        part.dataset.method = method;
      }
      $("canvas", figure).setAttribute("aria-label", `${method} map of the ${task} model`);
    }
    $("#methods").append(card);
  }
}
addMethodCards();

const elements = {
  body: document.body,
  loading: $("#loading"),
  loadText: $("#load-text"),
  loadProgress: $("#load-progress"),
  loadCount: $("#load-count"),
  error: $("#error"),
  errorText: $("#error-text"),
  file: $("#file"),
  cameraStart: $("#camera-start"),
  cameraStop: $("#camera-stop"),
  dropZone: $("#drop-zone"),
  photo: $("#photo"),
  photoBusy: $("#photo-busy"),
  photoBusyText: $("#photo-busy-text"),
  liveBadge: $("#live-badge"),
  liveText: $("#live-text"),
  message: $("#message"),
  table: $("#faces"),
  tableBody: $("#faces tbody"),
  tableTitle: $("#faces-title"),
  explain: $("#explain-panel"),
  explainHeading: $("#explain-heading"),
  faceInput: $("#face-input"),
  inputSize: $("#input-size"),
  faceCaption: $("#face-caption"),
  faceVariant: $("#face-variant"),
  opacity: $("#opacity"),
  opacityValue: $("#opacity-value"),
  metrics: $("#metrics"),
  metricsVariant: $("#metrics-variant"),
  viewCount: $("#view-count"),
  modelSize: $("#model-size"),
};

const state = {
  api: null,
  manifest: null,
  scales: null,
  ready: false,
  failed: false,
  loadError: "",
  pending: 0, // engine jobs the visitor waits for (live frames not counted)
  variant: $("input[name=variant]:checked")?.value ?? "cropped",
  opacity: Number(elements.opacity.value),
  generation: 0, // bumped whenever what is shown changes; stale answers are dropped
  current: null, // {id, analysis, bitmap, name, seconds}
  selected: null,
  maps: new Map(), // `${id}|${variant}|${index}|${method}` -> {age, gender, seconds}
  inflight: new Set(), // the same keys, for maps asked for and not yet answered
  live: null,
  hitAreas: [], // [{index, x, y, width, height}] on the photo canvas, boxes and labels
};
let analysisCount = 0;

// --- small helpers -------------------------------------------------------------------------

/** Resolves once the page has had a chance to paint (or after 100 ms in a hidden tab). */
function nextFrame() {
  return new Promise((resolve) => {
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      setTimeout(resolve, 0);
    };
    requestAnimationFrame(go);
    setTimeout(go, 100);
  });
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The little Markdown the manifest's verdicts use: **bold**, *italic*, `code`. */
function markdown(text) {
  return escapeHtml(text)
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/`(.+?)`/g, "<code>$1</code>")
    .replace(/(^|[^*])\*([^*]+?)\*/g, "$1<em>$2</em>");
}

function messageOf(error) {
  if (error && typeof error.message === "string" && error.message) return error.message;
  return String(error || "Something went wrong.");
}

/** FacePrediction.label(): ``34 (28-41) · female 93%``. */
function faceLabel(face) {
  const [low, high] = face.age_interval_80;
  const percent = roundHalfEven(face.gender_probability * 100);
  return `${roundHalfEven(face.age)} (${roundHalfEven(low)}-${roundHalfEven(high)}) · ${face.gender} ${percent}%`;
}

function intervalText([low, high]) {
  return `${roundHalfEven(low)}-${roundHalfEven(high)}`;
}

// --- state of the page -----------------------------------------------------------------------

function updateState() {
  let value = "ready";
  if (state.failed) value = "error";
  else if (!state.ready) value = "loading";
  else if (state.pending > 0) value = "busy";
  elements.body.dataset.state = value;
}

/** Engine calls run one at a time (the runtime is single-threaded). `wanted()` is asked just
 * before a job starts: a job nobody waits for any more is skipped (resolves to SKIPPED). */
const SKIPPED = Symbol("skipped");
let queue = Promise.resolve();
function enqueue(job, { wanted = () => true, counted = true } = {}) {
  if (counted) {
    state.pending++;
    updateState();
  }
  const run = queue.then(async () => {
    if (!wanted()) return SKIPPED;
    await nextFrame(); // let the page paint its "computing" state first
    if (!wanted()) return SKIPPED;
    return job();
  });
  queue = run.catch(() => {});
  return run.finally(() => {
    if (counted) {
      state.pending--;
      updateState();
    }
  });
}

function showError(text) {
  elements.errorText.textContent = text;
  elements.error.hidden = false;
}

function clearError() {
  elements.error.hidden = true;
  elements.errorText.textContent = "";
}

function setPhotoBusy(text) {
  elements.photoBusy.hidden = !text;
  elements.photoBusyText.textContent = text || "";
  elements.dropZone.setAttribute("aria-busy", text ? "true" : "false");
}

// --- loading ---------------------------------------------------------------------------------

async function load() {
  updateState();
  let api;
  try {
    await import("./api.js"); // sets window.ageGender; imported here so a failure can be shown
    api = window.ageGender;
    if (!api) throw new Error("the page's script did not start");
  } catch (error) {
    return loadFailed(new Error(`the page's scripts could not be loaded (${messageOf(error)})`));
  }
  state.api = api;
  api.onProgress(({ done, total }) => {
    elements.loadProgress.max = total;
    elements.loadProgress.value = done;
    elements.loadCount.textContent = total > 1 ? `${done} of ${total}` : "";
  });
  try {
    const [manifest, scales] = await Promise.all([api.manifest, loadScales(), api.ready]);
    state.manifest = manifest;
    state.scales = scales;
  } catch (error) {
    return loadFailed(error);
  }
  state.ready = true;
  elements.loading.hidden = true;
  describeManifest();
  updateState();
  if (state.current) showResult();
}

async function loadScales() {
  const response = await fetch("scales.json");
  if (!response.ok) throw new Error(`the colour scales (scales.json) are missing (${response.status})`);
  return response.json();
}

function loadFailed(error) {
  console.error(error);
  state.failed = true;
  elements.loading.hidden = true;
  let hint = "Reload the page to try again.";
  if (location.protocol === "file:") hint = "Open it through a web server (python -m http.server), not as a file.";
  else if (typeof WebAssembly !== "object") hint = "This browser cannot run WebAssembly; try a current Firefox, Chrome, Edge or Safari.";
  state.loadError = `The models could not be loaded: ${messageOf(error)}. ${hint}`;
  showError(state.loadError);
  setPhotoBusy("");
  updateState();
}

/** Everything the page shows of the manifest that does not depend on a photo. */
function describeManifest() {
  const { manifest } = state;
  elements.viewCount.textContent = String(manifest.views.length);
  const bytes = [
    ...Object.values(manifest.detector.networks),
    ...Object.values(manifest.variants).flatMap((v) => Object.values(v.models)),
  ].reduce((sum, entry) => sum + (entry.bytes || 0), 0);
  if (bytes) elements.modelSize.textContent = `${(bytes / 1e6).toFixed(0)} MB`;
  describeMethods();
  renderMetrics();
}

// --- opening a photo -------------------------------------------------------------------------

async function openPhoto(source, name) {
  if (state.failed) return showError(state.loadError);
  stopLive({ keep: false });
  clearError();
  const generation = ++state.generation;
  const wanted = () => generation === state.generation;
  setPhotoBusy(state.ready ? "Finding faces…" : "Waiting for the models to load…");
  elements.dropZone.classList.remove("empty");
  state.pending++; // "busy" from now until the maps are asked for, without a gap
  updateState();
  try {
    if (!state.api) await waitForApi();
    await state.api.ready;
    if (!wanted()) return;
    setPhotoBusy("Finding faces…");
    const started = performance.now();
    const analysis = await enqueue(() => state.api.analyse(source), { wanted });
    if (analysis === SKIPPED || !wanted()) return;
    const seconds = (performance.now() - started) / 1000;
    await adopt(analysis, name, seconds);
  } catch (error) {
    if (!wanted()) return;
    showError(`${name ? `${name}: ` : ""}${messageOf(error)}`);
    if (!state.current) elements.dropZone.classList.add("empty");
  } finally {
    if (wanted()) setPhotoBusy("");
    state.pending--;
    updateState();
  }
}

function waitForApi() {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (state.api) resolve();
      else if (state.failed) reject(new Error("The models could not be loaded."));
      else setTimeout(check, 100);
    };
    check();
  });
}

/** Makes an analysis the one shown (its first face selected). */
async function adopt(analysis, name, seconds) {
  const bitmap = await createImageBitmap(toImageData(analysis.photo));
  if (state.current?.bitmap) state.current.bitmap.close?.();
  state.current = { id: ++analysisCount, analysis, bitmap, name, seconds };
  state.maps.clear();
  state.inflight.clear();
  const faces = analysis.variants[state.variant].result.faces;
  state.selected = faces.length ? 0 : null;
  elements.dropZone.classList.remove("empty");
  showResult();
}

function toImageData(image) {
  if (image instanceof ImageData) return image;
  const data = image.data instanceof Uint8ClampedArray ? image.data : new Uint8ClampedArray(image.data);
  return new ImageData(data, image.width, image.height);
}

// --- the result: photo, message, table -------------------------------------------------------

function currentResult() {
  return state.current?.analysis.variants[state.variant]?.result ?? null;
}

function showResult() {
  const result = currentResult();
  if (!result) return;
  if (state.selected !== null && state.selected >= result.faces.length) {
    state.selected = result.faces.length ? 0 : null;
  }
  drawPhoto();
  showMessage(result);
  renderTable(result.faces, true);
  showSelection();
}

function showMessage(result) {
  const parts = [];
  if (result.message) parts.push(result.message);
  if (result.faces.length) {
    const count = result.faces.length === 1 ? "1 face" : `${result.faces.length} faces`;
    const time = state.current?.seconds ? ` in ${state.current.seconds.toFixed(1)} s` : "";
    parts.push(
      `${count}${time}, ${VARIANT_NAMES[state.variant]} model. Age: the model's estimate, and the ` +
        "range that held the true age for 80% of test faces like it. Gender: the model's probability.",
    );
  }
  elements.message.textContent = parts.join(" ");
  elements.message.classList.toggle("warning", Boolean(result.message));
  if (!result.faces.length && state.variant === "cropped" && !state.live) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button small";
    button.textContent = "Use the full-image model";
    button.addEventListener("click", () => {
      const radio = $("#variant-full");
      radio.checked = true;
      radio.dispatchEvent(new Event("change"));
      radio.focus();
    });
    elements.message.append(" ", button);
  }
}

/** The photo canvas: the picture, then every box and its label (model.render.annotate). */
function drawPhoto() {
  const { bitmap } = state.current;
  const result = currentResult();
  const canvas = elements.photo;
  const longer = Math.max(bitmap.width, bitmap.height);
  const scale = Math.min(PHOTO_MAX_SIDE, Math.max(PHOTO_MIN_SIDE, longer)) / longer;
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, width, height);
  const factor = width / result.image_size[0];
  drawBoxes(context, result.faces, factor, state.selected);
  const described = result.faces.map((face, i) => `face ${i + 1}: ${faceLabel(face)}`).join("; ");
  canvas.setAttribute(
    "aria-label",
    result.faces.length
      ? `The photo with ${result.faces.length === 1 ? "1 face" : `${result.faces.length} faces`} boxed: ${described}`
      : `The photo${state.current.name ? `, ${state.current.name}` : ""}: no face found`,
  );
}

/** Boxes numbered from 1, labels inside the picture (above the box where there is room, else
 * below, else inside its top), the selected face drawn last and in blue. Records hit areas. */
function drawBoxes(context, faces, factor, selected) {
  const canvas = context.canvas;
  const shown = canvas.getBoundingClientRect().width || canvas.width;
  const ratio = canvas.width / Math.max(shown, 1); // canvas pixels per screen pixel
  const line = Math.max(2, Math.round(2.5 * ratio));
  const fontSize = Math.max(10, Math.round(15 * ratio));
  state.hitAreas = [];
  // On a narrow screen several long labels would cover each other: then only the numbers,
  // and the table below says the rest.
  const compact = shown < 520 && faces.length > 1;
  const order = faces.map((_, i) => i).filter((i) => i !== selected);
  if (selected !== null && selected < faces.length) order.push(selected);
  for (const index of order) {
    const face = faces[index];
    const [x, y, w, h] = face.box.map((v) => Math.round(v * factor));
    const isSelected = index === selected;
    context.lineWidth = isSelected ? line * 2 : line;
    if (isSelected) {
      context.strokeStyle = "white";
      context.lineWidth = line * 3.5;
      context.strokeRect(x, y, w, h);
      context.lineWidth = line * 2;
    }
    context.strokeStyle = isSelected ? SELECTED_COLOUR : BOX_COLOUR;
    context.strokeRect(x, y, w, h);
    let size = fontSize;
    let text = compact ? String(index + 1) : `${index + 1}: ${faceLabel(face)}`;
    const setFont = () => (context.font = `600 ${size}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`);
    setFont();
    const room = canvas.width - 2 * line;
    while (context.measureText(text).width + 2 * line > room && size > 9) {
      size -= 1;
      setFont();
    }
    while (context.measureText(text).width + 2 * line > room && text.length > 2) {
      text = `${text.slice(0, -2).trimEnd()}…`;
    }
    const labelWidth = context.measureText(text).width + 4 * line;
    const labelHeight = Math.round(size * 1.25) + 2 * line;
    let labelY;
    if (y >= labelHeight) labelY = y - labelHeight;
    else if (y + h + labelHeight <= canvas.height) labelY = y + h;
    else labelY = Math.max(0, Math.min(y, canvas.height - labelHeight));
    const labelX = Math.max(0, Math.min(x, canvas.width - labelWidth));
    context.fillStyle = isSelected ? SELECTED_COLOUR : BOX_COLOUR;
    context.fillRect(labelX, labelY, labelWidth, labelHeight);
    context.fillStyle = isSelected ? "white" : "black";
    context.textBaseline = "middle";
    context.fillText(text, labelX + 2 * line, labelY + labelHeight / 2);
    state.hitAreas.push({ index, x, y, width: w, height: h });
    state.hitAreas.push({ index, x: labelX, y: labelY, width: labelWidth, height: labelHeight });
  }
}

/** The face under a point of the photo canvas (the smallest box holding it), or null. */
function faceAt(event) {
  const canvas = elements.photo;
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) * canvas.width) / rect.width;
  const y = ((event.clientY - rect.top) * canvas.height) / rect.height;
  const hits = state.hitAreas.filter((a) => x >= a.x && x <= a.x + a.width && y >= a.y && y <= a.y + a.height);
  if (!hits.length) return null;
  hits.sort((a, b) => a.width * a.height - b.width * b.height);
  return hits[0].index;
}

function renderTable(faces, selectable) {
  const body = elements.tableBody;
  body.replaceChildren();
  faces.forEach((face, index) => {
    const row = document.createElement("tr");
    row.dataset.faceIndex = String(index);
    const first = document.createElement("th");
    first.scope = "row";
    if (selectable) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "face-button";
      button.textContent = `Face ${index + 1}`;
      button.setAttribute("aria-pressed", String(index === state.selected));
      button.addEventListener("click", () => select(index));
      first.append(button);
    } else {
      first.textContent = String(index + 1);
    }
    row.append(first);
    const cells = [
      String(roundHalfEven(face.age)),
      intervalText(face.age_interval_80),
      intervalText(face.age_interval_90),
      face.age_group,
      face.gender,
      `${roundHalfEven(face.gender_probability * 100)}%`,
    ];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    if (selectable) {
      row.classList.add("selectable");
      row.classList.toggle("selected", index === state.selected);
      row.addEventListener("click", (event) => {
        if (!event.target.closest("button")) select(index);
      });
    }
    body.append(row);
  });
  elements.table.hidden = faces.length === 0;
  elements.tableTitle.hidden = faces.length === 0;
  elements.tableTitle.textContent = selectable
    ? "Faces: pick one to see what the models looked at"
    : "Faces in the newest frame";
}

function select(index) {
  const result = currentResult();
  if (!result || index === null || index < 0 || index >= result.faces.length) return;
  if (index === state.selected) return;
  state.selected = index;
  drawPhoto();
  for (const row of $$("tr[data-face-index]", elements.tableBody)) {
    const on = Number(row.dataset.faceIndex) === index;
    row.classList.toggle("selected", on);
    $("button", row)?.setAttribute("aria-pressed", String(on));
  }
  showSelection();
}

// --- the selected face and its maps ----------------------------------------------------------

function describeMethods() {
  if (!state.manifest) return;
  const methods = state.manifest.variants[state.variant].methods;
  for (const method of METHODS) {
    const article = $(`article.method[data-method="${method}"]`);
    const meta = methods[method];
    if (!meta) continue;
    $(".method-label", article).textContent = meta.label;
    $(".description", article).textContent = meta.description;
    const verdict = $(".verdict", article);
    verdict.innerHTML = markdown(meta.verdict);
    verdict.className = `verdict ${meta.passes === true ? "pass" : meta.passes === false ? "fail" : "unknown"}`;
    for (const canvas of $$("canvas", article)) {
      canvas.setAttribute("aria-label", `${meta.label} map of the ${canvas.dataset.task} model`);
    }
  }
}

function selectionKey() {
  return `${state.current?.id}|${state.variant}|${state.selected}`;
}

function showSelection() {
  describeMethods();
  const result = currentResult();
  const index = state.selected;
  if (!state.ready || !result || index === null || !result.faces.length) {
    elements.explain.hidden = true;
    clearMaps();
    return;
  }
  elements.explain.hidden = false;
  const face = result.faces[index];
  const input = state.current.analysis.variants[state.variant].inputs[index];
  const framing =
    { "whole picture": " (the whole picture)", "best guess": " (a best guess at a face)" }[face.framing] ??
    "";
  elements.explainHeading.textContent = `Why? What the models looked at in face ${index + 1}${framing}`;
  elements.faceCaption.textContent = `Face ${index + 1}: ${faceLabel(face)}`;
  elements.faceVariant.textContent = `${state.variant === "cropped" ? "Cropped-face" : "Full-image"} models; age group ${face.age_group}.`;
  drawInput(input);
  const key = selectionKey();
  for (const method of METHODS) {
    const cached = state.maps.get(`${key}|${method}`);
    if (cached) drawMethod(method, cached, input);
    else requestMaps(method, key, input);
  }
}

function drawInput(input) {
  const canvas = elements.faceInput;
  canvas.width = input.width;
  canvas.height = input.height;
  canvas.getContext("2d").putImageData(toImageData(input), 0, 0);
  elements.inputSize.textContent = `${input.width} × ${input.height}`;
}

function clearMaps() {
  for (const canvas of $$("canvas[data-method]")) {
    canvas.removeAttribute("data-ready");
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  }
}

function methodArticle(method) {
  return $(`article.method[data-method="${method}"]`);
}

function setMethodStatus(method, text, busy) {
  const article = methodArticle(method);
  $(".method-status", article).textContent = text;
  article.setAttribute("aria-busy", busy ? "true" : "false");
  article.classList.toggle("computing", busy);
}

async function requestMaps(method, key, input) {
  const analysis = state.current.analysis;
  const { variant } = state;
  const index = state.selected;
  const wanted = () => selectionKey() === key && !state.live;
  // Until the maps come: the plain face, marked as computing.
  for (const task of TASKS) drawPlainFace(method, task, input);
  const slow = method === "occlusion";
  setMethodStatus(method, slow ? "Computing… covering the face patch by patch takes a few seconds." : "Computing…", true);
  const mapKey = `${key}|${method}`;
  if (state.inflight.has(mapKey)) return; // asked already: that answer will be drawn
  state.inflight.add(mapKey);
  try {
    const started = performance.now();
    const maps = await enqueue(() => state.api.explain(analysis, variant, index, method), { wanted });
    if (maps === SKIPPED) return;
    const entry = { ...maps, seconds: (performance.now() - started) / 1000 };
    state.maps.set(`${key}|${method}`, entry);
    if (selectionKey() === key) drawMethod(method, entry, input);
  } catch (error) {
    if (selectionKey() !== key) return;
    setMethodStatus(method, `These maps could not be computed: ${messageOf(error)}`, false);
  } finally {
    state.inflight.delete(mapKey);
  }
}

function drawPlainFace(method, task, input) {
  const canvas = $(`canvas[data-task="${task}"][data-method="${method}"]`);
  canvas.removeAttribute("data-ready");
  const context = canvas.getContext("2d");
  context.putImageData(overlayPixels(input, null, 0), 0, 0);
  $(`.colour-bar[data-task="${task}"][data-method="${method}"]`).replaceChildren();
}

function drawMethod(method, maps, input) {
  for (const task of TASKS) drawMap(method, task, maps[task], input);
  setMethodStatus(method, `Computed in ${maps.seconds.toFixed(1)} s.`, false);
}

function drawMap(method, task, map, input) {
  const canvas = $(`canvas[data-task="${task}"][data-method="${method}"]`);
  canvas.width = MAP_SIZE;
  canvas.height = MAP_SIZE;
  canvas.getContext("2d").putImageData(overlayPixels(input, map, state.opacity), 0, 0);
  canvas.dataset.ready = "true";
  const bar = $(`.colour-bar[data-task="${task}"][data-method="${method}"]`);
  drawColourBar(bar, map, state.opacity);
  const [low, , high] = barLabels(map)[0];
  let kind = map.signed ? `${map.meaning}, ${low} to ${high} ${map.units}` : "relative importance";
  if (isBlank(map)) kind = state.scales.blank_map;
  const label = $(`article.method[data-method="${method}"] .method-label`).textContent;
  canvas.setAttribute("aria-label", `${label} map of the ${task} model over the face (${kind})`);
}

function redrawMaps() {
  const result = currentResult();
  if (!result || state.selected === null || state.live) return;
  const input = state.current.analysis.variants[state.variant].inputs[state.selected];
  const key = selectionKey();
  for (const method of METHODS) {
    const maps = state.maps.get(`${key}|${method}`);
    if (maps) for (const task of TASKS) drawMap(method, task, maps[task], input);
  }
}

// --- overlays, as model.render.overlay -------------------------------------------------------

const upscaleCache = new WeakMap(); // map or input -> upscaled planes

/** PIL's bicubic filter (a = -0.5). */
function cubic(x) {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const weightCache = new Map();
/** PIL's resampling coefficients for in -> out pixels (bicubic, half-pixel centres). */
function bicubicWeights(inSize, outSize) {
  const cacheKey = `${inSize}>${outSize}`;
  if (weightCache.has(cacheKey)) return weightCache.get(cacheKey);
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const rows = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const start = Math.max(0, Math.trunc(centre - support + 0.5));
    const end = Math.min(inSize, Math.trunc(centre + support + 0.5));
    const weights = [];
    let total = 0;
    for (let x = start; x < end; x++) {
      const w = cubic((x - centre + 0.5) / filterScale);
      weights.push(w);
      total += w;
    }
    rows.push({ start, weights: weights.map((w) => (total ? w / total : 0)) });
  }
  weightCache.set(cacheKey, rows);
  return rows;
}

/** A square plane of floats (size x size) resized to out x out, bicubic, separable. */
function resizePlane(values, size, out) {
  const weights = bicubicWeights(size, out);
  const across = new Float32Array(size * out);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < out; x++) {
      const { start, weights: w } = weights[x];
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += values[y * size + start + k] * w[k];
      across[y * out + x] = sum;
    }
  }
  const result = new Float32Array(out * out);
  for (let y = 0; y < out; y++) {
    const { start, weights: w } = weights[y];
    for (let x = 0; x < out; x++) {
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += across[(start + k) * out + x] * w[k];
      result[y * out + x] = sum;
    }
  }
  return result;
}

/** The face (RGBA, S x S) upscaled to MAP_SIZE: three planes in [0, 255], rounded like uint8. */
function upscaledFace(input) {
  if (upscaleCache.has(input)) return upscaleCache.get(input);
  const size = input.width;
  const planes = [0, 1, 2].map((channel) => {
    const plane = new Float32Array(size * size);
    for (let i = 0; i < plane.length; i++) plane[i] = input.data[i * 4 + channel];
    const big = resizePlane(plane, size, MAP_SIZE);
    for (let i = 0; i < big.length; i++) big[i] = Math.min(255, Math.max(0, Math.round(big[i])));
    return big;
  });
  upscaleCache.set(input, planes);
  return planes;
}

/** A map's values upscaled to MAP_SIZE, kept within the map's own range (render._upscale). */
function upscaledMap(map) {
  if (upscaleCache.has(map)) return upscaleCache.get(map);
  let low = Infinity;
  let high = -Infinity;
  for (const v of map.values) {
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  const big = resizePlane(map.values, map.size, MAP_SIZE);
  for (let i = 0; i < big.length; i++) big[i] = Math.min(high, Math.max(low, big[i]));
  upscaleCache.set(map, big);
  return big;
}

/** render.display_scale: 1 for a relative map, else the 99th percentile of |values|. */
function displayScale(map) {
  if (!map.signed) return 1;
  if (map.displayScale !== undefined) return map.displayScale;
  const magnitudes = Float64Array.from(map.values, Math.abs).sort();
  const percentile = state.scales?.signed_percentile ?? 99;
  const position = ((magnitudes.length - 1) * percentile) / 100; // numpy's "linear"
  const below = Math.floor(position);
  const above = Math.min(below + 1, magnitudes.length - 1);
  const value = magnitudes[below] + (magnitudes[above] - magnitudes[below]) * (position - below);
  map.displayScale = Math.max(value, 1e-6);
  return map.displayScale;
}

/** A colour of a lookup table at a position in [0, 1] (matplotlib's Colormap.__call__). */
function lutColour(table, position) {
  const n = table.length;
  const index = Math.min(n - 1, Math.max(0, Math.floor(position * n)));
  return table[index];
}

/** render.overlay: the face with the map blended in proportion to its strength, up to
 * `opacity`. With no map: the face alone. */
function overlayPixels(input, map, opacity) {
  const [red, green, blue] = upscaledFace(input);
  const image = new ImageData(MAP_SIZE, MAP_SIZE);
  const out = image.data;
  const values = map ? upscaledMap(map) : null;
  const signed = Boolean(map?.signed);
  const scale = map ? displayScale(map) : 1;
  const table = map ? state.scales[signed ? "signed" : "relative"] : null;
  for (let i = 0; i < MAP_SIZE * MAP_SIZE; i++) {
    let r = red[i];
    let g = green[i];
    let b = blue[i];
    if (values) {
      let strength;
      let position;
      if (signed) {
        const scaled = Math.min(1, Math.max(-1, values[i] / scale));
        strength = Math.abs(scaled);
        position = (scaled + 1) / 2;
      } else {
        strength = position = Math.min(1, Math.max(0, values[i]));
      }
      const alpha = opacity * strength;
      const colour = lutColour(table, position);
      r = (1 - alpha) * r + alpha * colour[0];
      g = (1 - alpha) * g + alpha * colour[1];
      b = (1 - alpha) * b + alpha * colour[2];
    }
    out[i * 4] = Math.round(r);
    out[i * 4 + 1] = Math.round(g);
    out[i * 4 + 2] = Math.round(b);
    out[i * 4 + 3] = 255;
  }
  return image;
}

/** render._number: sign and two significant digits: +12, −3.2, +0.053. */
function barNumber(value) {
  const magnitude = Math.abs(value);
  let text;
  if (magnitude >= 10) text = roundHalfEven(magnitude).toFixed(0);
  else if (magnitude >= 1) text = magnitude.toFixed(1);
  else if (magnitude === 0) text = "0";
  else if (magnitude < 1e-4) {
    const [mantissa, exponent] = magnitude.toExponential(1).split("e");
    const digits = String(Math.abs(Number(exponent))).padStart(2, "0");
    text = `${Number(mantissa)}e${Number(exponent) < 0 ? "-" : "+"}${digits}`;
  } else text = String(Number(magnitude.toPrecision(2)));
  return (value > 0 ? "+" : value < 0 ? "−" : "") + text;
}

/** A map that is zero everywhere (Grad-CAM's where no region raises the score). */
function isBlank(map) {
  return !map.values.some((value) => value !== 0);
}

/** render.bar_labels: rows of (left end, middle, right end). */
function barLabels(map) {
  const blank = isBlank(map);
  if (map.signed) {
    const [low, high] = map.ends;
    if (blank) return [["", "0", ""], [`← ${low}`, "", `${high} →`], ["", state.scales.blank_map, ""]];
    const scale = displayScale(map);
    return [
      [barNumber(-scale), "0", barNumber(scale)],
      [`← ${low}`, "", `${high} →`],
      ["", `${map.meaning} (${map.units})`, ""],
    ];
  }
  return [
    ["0", "", "1"],
    ["← low", "", "high →"],
    ["", blank ? state.scales.blank_map : map.meaning || "relative importance", ""],
  ];
}

/** render.colour_bar: the scale in the colours the overlay blends (over white), with words. */
function drawColourBar(container, map, opacity) {
  const width = 256;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = 1;
  canvas.className = "bar-strip";
  canvas.setAttribute("aria-hidden", "true");
  const context = canvas.getContext("2d");
  const strip = context.createImageData(width, 1);
  const table = state.scales[map.signed ? "signed" : "relative"];
  for (let i = 0; i < width; i++) {
    const t = width === 1 ? 0 : i / (width - 1);
    const ramp = map.signed ? -1 + 2 * t : t;
    const strength = Math.abs(ramp);
    const position = map.signed ? (ramp + 1) / 2 : ramp;
    const colour = lutColour(table, position);
    const alpha = opacity * strength;
    for (let c = 0; c < 3; c++) strip.data[i * 4 + c] = Math.round((1 - alpha) * 255 + alpha * colour[c]);
    strip.data[i * 4 + 3] = 255;
  }
  context.putImageData(strip, 0, 0);
  const rows = barLabels(map).map((row, r) => {
    const line = document.createElement("div");
    line.className = `bar-row bar-row-${r}`;
    for (const text of row) {
      const span = document.createElement("span");
      span.textContent = text;
      line.append(span);
    }
    return line;
  });
  container.replaceChildren(canvas, ...rows);
}

// --- metrics: where the models are weak ------------------------------------------------------

function renderMetrics() {
  if (!state.manifest) return;
  const metrics = state.manifest.variants[state.variant].metrics;
  elements.metricsVariant.textContent =
    `${state.variant === "cropped" ? "Cropped-face" : "Full-image"} models (the switch above chooses).`;
  if (!metrics) {
    elements.metrics.innerHTML = '<p class="muted">No test metrics in this build.</p>';
    return;
  }
  const overall = `
    <dl class="headline">
      <div><dt>Test faces</dt><dd>${metrics.n.toLocaleString("en")}</dd></div>
      <div><dt>Age: mean absolute error</dt><dd>${metrics.age_mae.toFixed(1)} years</dd></div>
      <div><dt>Gender accuracy</dt><dd>${(metrics.gender_accuracy * 100).toFixed(1)}%</dd></div>
    </dl>`;
  const young = metrics.by_young_age ? groupTable("Children and teenagers", metrics.by_young_age) : "";
  const decades = metrics.by_age_bucket ? groupTable("By decade of age", metrics.by_age_bucket) : "";
  elements.metrics.innerHTML = overall + young + decades;
  for (const table of $$("table", elements.metrics)) {
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    table.replaceWith(wrap);
    wrap.append(table);
  }
}

function groupTable(title, groups) {
  const entries = Object.entries(groups);
  const widest = Math.max(5, ...entries.map(([, g]) => Math.abs(g.age_mean_error)));
  const rows = entries
    .map(([band, g]) => {
      const error = g.age_mean_error;
      const share = (Math.abs(error) / widest) * 50;
      const side = error >= 0 ? "older" : "younger";
      const accuracy = g.gender_accuracy * 100;
      const low = accuracy < 85 ? " low" : "";
      return `<tr>
        <th scope="row">${escapeHtml(band)}</th>
        <td class="num">${g.n}</td>
        <td class="num">${g.age_mae.toFixed(1)}</td>
        <td class="chart"><span class="diverging"><span class="bar ${side}" style="width:${share.toFixed(1)}%"></span></span>
          <span class="num">${error > 0 ? "+" : error < 0 ? "−" : ""}${Math.abs(error).toFixed(1)}</span></td>
        <td class="chart"><span class="meter"><span class="bar accuracy${low}" style="width:${accuracy.toFixed(1)}%"></span></span>
          <span class="num">${accuracy.toFixed(0)}%</span></td>
      </tr>`;
    })
    .join("");
  return `<table class="metrics-table">
    <caption>${escapeHtml(title)}</caption>
    <thead><tr><th scope="col">Ages</th><th scope="col">Faces</th><th scope="col">Mean abs. error (years)</th>
      <th scope="col">Mean error (years)</th><th scope="col">Gender accuracy</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

// --- live camera -----------------------------------------------------------------------------

function cameraMessage(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "The camera was not allowed. To use it, allow this page to use the camera (in the address bar) and try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found on this device.";
    case "NotReadableError":
    case "AbortError":
      return "The camera could not be started: another program may be using it.";
    default:
      return `The camera could not be started: ${messageOf(error)}`;
  }
}

async function startLive() {
  if (state.failed) return showError(state.loadError);
  if (state.live) return;
  clearError();
  if (!navigator.mediaDevices?.getUserMedia) {
    showError(
      window.isSecureContext
        ? "This browser offers no camera to this page."
        : "The camera needs a secure page (https:// or localhost).",
    );
    return;
  }
  elements.cameraStart.disabled = true;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      audio: false,
    });
  } catch (error) {
    elements.cameraStart.disabled = false;
    showError(cameraMessage(error));
    return;
  }
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  try {
    await video.play();
  } catch (error) {
    stream.getTracks().forEach((track) => track.stop());
    elements.cameraStart.disabled = false;
    showError(cameraMessage(error));
    return;
  }
  state.generation++; // anything under way for a photo is stale now
  const live = { stream, video, running: true, latest: null, frame: null, times: [], raf: 0 };
  state.live = live;
  elements.dropZone.classList.remove("empty");
  elements.dropZone.classList.add("live");
  elements.cameraStart.hidden = true;
  elements.cameraStop.hidden = false;
  elements.cameraStart.disabled = false;
  elements.liveBadge.hidden = false;
  elements.liveText.textContent = "Live: starting…";
  elements.explain.hidden = true;
  elements.message.textContent =
    "Live: every face is boxed with its age (80% margin) and gender, as fast as this device can go. The frames stay on this device.";
  elements.message.classList.remove("warning");
  setPhotoBusy("");
  elements.cameraStop.focus();
  const draw = () => {
    if (!live.running) return;
    drawLiveFrame(live);
    live.raf = requestAnimationFrame(draw);
  };
  draw();
  analyseLive(live);
}

/** A mirrored copy of the video's frame, its longer side at most LIVE_SIDE pixels. */
function grabFrame(video) {
  const scale = Math.min(1, LIVE_SIDE / Math.max(video.videoWidth, video.videoHeight));
  const width = Math.max(1, Math.round(video.videoWidth * scale));
  const height = Math.max(1, Math.round(video.videoHeight * scale));
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.translate(width, 0);
  context.scale(-1, 1);
  context.drawImage(video, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

/** Analyses the newest frame as soon as the previous analysis is done (webapp.live). */
async function analyseLive(live) {
  try {
    if (!state.api) await waitForApi();
    await state.api.ready;
  } catch (error) {
    stopLive({ keep: false });
    showError(messageOf(error));
    return;
  }
  while (live.running) {
    if (!live.video.videoWidth) {
      await sleep(50);
      continue;
    }
    const frame = grabFrame(live.video);
    const started = performance.now();
    try {
      const analysis = await enqueue(() => state.api.analyse(frame), {
        wanted: () => live.running,
        counted: false,
      });
      if (analysis === SKIPPED || !live.running) break;
      live.latest = analysis;
      live.times.push(performance.now() - started);
      if (live.times.length > 10) live.times.shift();
      const seconds = live.times.reduce((a, b) => a + b, 0) / live.times.length / 1000;
      const result = analysis.variants[state.variant].result;
      const count = result.faces.length === 1 ? "1 face" : `${result.faces.length} faces`;
      elements.liveText.textContent = `Live: ${count} · ${(1 / seconds).toFixed(1)} analyses per second`;
      renderTable(result.faces, false);
    } catch (error) {
      if (!live.running) break;
      stopLive({ keep: false });
      showError(`Live analysis stopped: ${messageOf(error)}`);
      break;
    }
    await sleep(0);
  }
}

function drawLiveFrame(live) {
  const { video } = live;
  if (!video.videoWidth) return;
  const canvas = elements.photo;
  if (canvas.width !== video.videoWidth || canvas.height !== video.videoHeight) {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
  }
  const context = canvas.getContext("2d");
  context.save();
  context.translate(canvas.width, 0);
  context.scale(-1, 1);
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  context.restore();
  if (live.latest) {
    const result = live.latest.variants[state.variant].result;
    drawBoxes(context, result.faces, canvas.width / result.image_size[0], null);
    canvas.setAttribute("aria-label", `Live camera: ${result.faces.map((f, i) => `face ${i + 1}: ${faceLabel(f)}`).join("; ") || "no face found"}`);
  }
}

/** Stops the camera; with `keep`, the last analysed frame becomes the photo shown. */
function stopLive({ keep = true } = {}) {
  const live = state.live;
  if (!live) return;
  live.running = false;
  cancelAnimationFrame(live.raf);
  live.stream.getTracks().forEach((track) => track.stop());
  live.video.srcObject = null;
  state.live = null;
  state.generation++;
  elements.dropZone.classList.remove("live");
  elements.cameraStart.hidden = false;
  elements.cameraStop.hidden = true;
  elements.liveBadge.hidden = true;
  state.hitAreas = [];
  if (keep && live.latest) {
    adopt(live.latest, "camera frame", null).then(() => {
      elements.message.prepend("Camera stopped: this is the last frame analysed. ");
    });
  } else if (state.current && keep) {
    showResult();
  } else {
    state.current = null;
    state.selected = null;
    elements.tableBody.replaceChildren();
    elements.table.hidden = true;
    elements.tableTitle.hidden = true;
    elements.explain.hidden = true;
    elements.message.textContent = "";
    elements.dropZone.classList.add("empty");
  }
  if (keep) elements.cameraStart.focus();
}

// --- wiring ----------------------------------------------------------------------------------

function imageFromClipboard(event) {
  const items = [...(event.clipboardData?.items ?? [])];
  const item = items.find((entry) => entry.kind === "file" && entry.type.startsWith("image/"));
  return item ? item.getAsFile() : null;
}

function wire() {
  elements.file.addEventListener("change", () => {
    const [file] = elements.file.files;
    if (file) openPhoto(file, file.name);
    elements.file.value = "";
  });

  for (const button of $$("button[data-example]")) {
    button.addEventListener("click", () => {
      const name = button.dataset.example;
      openPhoto(`${EXAMPLE_DIR}${name}`, name);
    });
  }

  // Drag and drop: onto the photo area (highlighted), but anywhere in the page works, and a
  // file dropped elsewhere does not make the browser leave the page.
  let dragDepth = 0;
  document.addEventListener("dragenter", (event) => {
    if (![...(event.dataTransfer?.types ?? [])].includes("Files")) return;
    dragDepth++;
    elements.dropZone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) elements.dropZone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    elements.dropZone.classList.remove("dragging");
    const file = [...(event.dataTransfer?.files ?? [])][0];
    if (file) openPhoto(file, file.name);
    else showError("Drop an image file: a photo from your computer.");
  });

  document.addEventListener("paste", (event) => {
    const file = imageFromClipboard(event);
    if (file) {
      event.preventDefault();
      openPhoto(file, "pasted image");
    } else if (!event.target.closest?.("input, textarea, [contenteditable]")) {
      showError("The clipboard holds no image. Copy a picture (not its file name) and paste again.");
    }
  });

  for (const radio of $$("input[name=variant]")) {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      state.variant = radio.value;
      renderMetrics();
      describeMethods();
      if (state.live) {
        if (state.live.latest) renderTable(state.live.latest.variants[state.variant].result.faces, false);
        return;
      }
      if (state.current) showResult();
    });
  }

  elements.photo.addEventListener("click", (event) => {
    if (state.live) return;
    const index = faceAt(event);
    if (index !== null) select(index);
  });
  elements.photo.addEventListener("mousemove", (event) => {
    elements.photo.style.cursor = !state.live && faceAt(event) !== null ? "pointer" : "";
  });
  elements.photo.addEventListener("keydown", (event) => {
    const result = currentResult();
    if (state.live || !result?.faces.length) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const count = result.faces.length;
    select(((state.selected ?? 0) + step + count) % count);
  });

  elements.opacity.addEventListener("input", () => {
    state.opacity = Number(elements.opacity.value);
    elements.opacityValue.textContent = state.opacity.toFixed(2);
    redrawMaps();
  });

  elements.cameraStart.addEventListener("click", startLive);
  elements.cameraStop.addEventListener("click", () => stopLive({ keep: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopLive({ keep: true });
  });

  $("#error-close").addEventListener("click", clearError);

  // Labels keep their on-screen size when the photo is shown larger or smaller.
  let shownWidth = 0;
  new ResizeObserver(() => {
    const width = Math.round(elements.photo.getBoundingClientRect().width);
    if (width === shownWidth) return;
    shownWidth = width;
    if (state.current && !state.live) drawPhoto();
  }).observe(elements.photo);
}

wire();
load();

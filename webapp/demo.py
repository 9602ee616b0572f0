"""The Gradio demo: a photo in, age with its margin, gender, saliency maps and the models' record.

``python app.py`` starts it. The handlers below are plain functions over ``model`` (the
predictor, explanations and renderings) and ``webapp.figures``; the layout only wires them.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import gradio as gr
import pandas as pd
from PIL import Image

from faces import ImageError
from model import sanity, shipped
from model.explain import BASELINES, OCCLUSION_PATCH
from model.predictor import (
    AGE_BUCKET_LABELS,
    VARIANT_NAMES,
    FacePrediction,
)
from model.render import annotate, map_picture
from webapp import figures
from webapp.live import live_tab
from webapp.many_photos import many_photos_tab
from webapp.variants import predictor

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
VARIANT_CHOICES = [(f"{VARIANT_NAMES[v]} model", v) for v in ("cropped", "full")]
OCCLUSION_PATCH_PIXELS = round(64 * OCCLUSION_PATCH)
"""The occlusion patch the demo starts with (the default of a 64-pixel face)."""
MAP_OPACITY = 0.7
MAP_SIZE = 320
"""Side of a map picture in pixels; its colour bar comes below it."""
MAP_HEIGHT = 420
TASKS = ("age", "gender")
PATCH_LABEL = "Occlusion: patch size (pixels of the 64-pixel face)"
STRIDE_LABEL = "Occlusion: stride (pixels; 0 = half the patch)"
BASELINE_LABEL = "Integrated gradients: baseline"
CONCURRENCY = 2
"""Requests worked on at once: one per CPU core of the free Hugging Face hardware."""
QUEUE_SIZE = 16
"""Requests waiting beyond those are turned away with a message instead of piling up."""
MAX_FILE_SIZE = "25mb"
CACHE_SECONDS = int(os.environ.get("DEMO_CACHE_SECONDS", "120"))
CACHE_CLEANUP = (min(60, CACHE_SECONDS), CACHE_SECONDS)
"""Gradio deletes cached uploads and pictures older than `CACHE_SECONDS` (120 by default;
the environment variable DEMO_CACHE_SECONDS changes it), checking every minute at most."""
UNEXPECTED = "Something went wrong while reading this photo. Please try another one."


class PhotoInput(gr.Image):
    """Gradio's image input, but it hands the handler the uploaded file untouched: decoding
    (EXIF rotation, odd modes, size limits, readable errors) is the predictor's job."""

    is_template = True

    def preprocess(self, payload):
        if payload is None or (payload.url or "").startswith("data:"):
            return super().preprocess(payload)
        return payload.path


def _read_upload(photo: str | None) -> bytes:
    """The uploaded file's bytes. Gradio stores identical uploads once and shares them between
    requests, so the file is left to Gradio's timed clean-up (`CACHE_CLEANUP`), not deleted."""
    if photo is None:
        raise gr.Error("Please upload a photo first (or take one with the webcam).")
    path = Path(photo)
    if not path.is_file():
        raise gr.Error(
            "This photo is no longer on the server (uploads are deleted after a few minutes, "
            "for your privacy). Please upload it again."
        )
    return path.read_bytes()


def _predict(photo: str | None, variant: str):
    data = _read_upload(photo)
    try:
        return predictor(variant).predict(data)
    except ImageError as error:
        raise gr.Error(str(error)) from None
    except gr.Error:
        raise
    except Exception:
        log.exception("prediction failed")
        raise gr.Error(UNEXPECTED) from None


def predict_json(photo: str | None, variant: str = "cropped") -> dict:
    """The ``predict`` API: every face with its box (x, y, width, height in photo pixels), age
    and 80%/90% intervals (years), Adience age group, gender and its probability."""
    return _predict(photo, variant).to_dict()


def faces_table(faces: list[FacePrediction]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "face": number,
                "age": round(face.age),
                "80% interval": f"{face.interval_80[0]:.0f}-{face.interval_80[1]:.0f}",
                "90% interval": f"{face.interval_90[0]:.0f}-{face.interval_90[1]:.0f}",
                "age group": face.age_group,
                "gender": face.gender,
                "probability": f"{face.gender_probability:.0%}",
            }
            for number, face in enumerate(faces, start=1)
        ],
        columns=["face", "age", "80% interval", "90% interval", "age group", "gender",
                 "probability"],
    )  # fmt: skip


def analyse(photo: str | None, variant: str):
    """Predict button: (labelled photo, faces table, faces for the state, face selector, note)."""
    result = _predict(photo, variant)
    labels = [face.label() for face in result.faces]
    labelled = annotate(result.photo, result.boxes_in(result.photo.size), labels)
    choices = [(f"Face {n}: {f.label()}", n - 1) for n, f in enumerate(result.faces, start=1)]
    note = result.message or ""
    if result.faces:
        note += (
            f"\n\n{len(result.faces)} face(s). Age: the model's estimate, and the range that "
            "held the true age for 80% of test faces like it. Gender: the model's probability."
        )
    selector = gr.update(choices=choices, value=0 if choices else None)
    return labelled, faces_table(result.faces), result.faces, selector, note


def method_menu(method: str, variant: str):
    """When the model changes: the menu's marks and the note follow it."""
    return gr.update(choices=sanity.menu(variant), value=method), sanity.note(method, variant)


def method_options(
    method: str, patch: int = OCCLUSION_PATCH_PIXELS, stride: int = 0, baseline: str = "black"
) -> dict:
    """The demo's option controls as `Predictor.explain` options (stride 0: half the patch)."""
    if method == "occlusion":
        return {"patch": int(patch), "stride": int(stride) or None}
    if method == "integrated_gradients":
        return {"baseline": baseline}
    return {}


def face_maps(
    faces: list[FacePrediction] | None,
    index: int | None,
    method: str,
    opacity: float,
    patch: int = OCCLUSION_PATCH_PIXELS,
    stride: int = 0,
    baseline: str = "black",
):
    """The selected face's maps for the age and the gender model: each over the face, above
    its colour bar (in years and points for occlusion and integrated gradients)."""
    if not faces or index is None or index >= len(faces):
        return None, None
    face = faces[index]
    options = method_options(method, patch, stride, baseline)
    maps = predictor(face_variant(faces)).explain(face, method, **options)
    return tuple(map_picture(face.face, maps[task], opacity, size=MAP_SIZE) for task in TASKS)


def face_variant(faces: list[FacePrediction]) -> str:
    """Which variant produced these faces."""
    return faces[0].variant


def slide(faces: list[FacePrediction] | None, index: int | None, opacity: float):
    """The 1920x1080 presentation figure of the selected face, every method."""
    if not faces or index is None or index >= len(faces):
        raise gr.Error("Predict a photo with a face first.")
    png = predictor(face_variant(faces)).presentation(faces[index], opacity=opacity)
    return Image.open(io.BytesIO(png))


def example_photos() -> list[Path]:
    """The demo's examples: the public-domain photographs, then the drawn faces."""
    return sorted(EXAMPLES_DIR.glob("*.jpg")) + sorted(EXAMPLES_DIR.glob("*.png"))


def about_text() -> str:
    """The About tab, its figures from the data report and the sanity check beside the weights."""
    report = shipped.data_report()
    rebalance, config = report["rebalance"], report["config"]
    test, val = config["test_fraction"], config["val_fraction"]
    reports = {VARIANT_NAMES[v]: sanity.load(v) for v in ("cropped", "full")}
    return ABOUT.format(
        usable=report["files"]["usable"],
        removed=rebalance["removed_over_max_age"],
        max_age=config["max_age"],
        toddlers_before=rebalance["toddlers_before"],
        toddlers_after=rebalance["toddlers_after"],
        toddler_max_age=config["toddler_max_age"],
        after=rebalance["after"],
        train=1 - val - test,
        val=val,
        test=test,
        sanity_summary=sanity.summary(reports),
    )


def average_map_gallery(variant: str, task: str) -> list[tuple[Image.Image, str]]:
    """(picture, caption) of each shipped average Grad-CAM map, age buckets then genders."""
    maps = shipped.average_maps(variant)[task]
    order = [f"age_{label}" for label in AGE_BUCKET_LABELS] + ["gender_male", "gender_female"]
    return [
        (Image.open(maps[group]["path"]), f"{group.split('_', 1)[1]} (n={maps[group]['n']})")
        for group in order
        if group in maps
    ]


ABOUT = """
## About this demo

**What it does.** It estimates a person's age and gender from a face photo with two small
convolutional networks per input variant (one for age, one for gender), trained on a CPU
(gender, and the whole-image age, from public-domain networks trained on 200,000 and 110,000
faces; the cropped-face age from scratch), and shows *why*
with saliency maps. The networks also trained on faces damaged as real photos are (grey or
faded, colour casts, blurred, compressed, noisy, partly covered), so that a damaged digital
photo is read much like a clean one. Old scanned prints are harder: there the age models read
children and young adults as several years older.

**Data.** [UTKFace](https://susanqq.github.io/UTKFace/): {usable:,} face chips aged 0-116,
labelled with age, gender (male/female, as the data set records it) and race. Its licence
allows **non-commercial research only**; the images stay with their owners. We removed the
{removed:,} people over {max_age} (too few to learn) and kept {toddlers_after:,} of the
{toddlers_before:,} toddlers aged 0-{toddler_max_age} (they would otherwise dominate), then split
the {after:,} faces {train:.0%}/{val:.0%}/{test:.0%} into training, validation and test sets,
stratified by age and gender.

**Two variants, one geometry.** A face detector (MTCNN) finds every face and its eyes, nose
and mouth corners; each face is then rotated, scaled and shifted so that these five points sit
where they sit in UTKFace's training chips (eyes level, one size, centred). *Full image* judges
that whole aligned chip (face, hair, a little neck and background); *cropped face* judges its
tight crop, forehead to chin. Only when no face is found does the full-image model judge its
best guess at one (the most face-like region the detector rejected) or the whole picture, and it
says so.

**The age.** A network trained on the squared error answers the average age of faces that look
alike, so its answers crowd towards the middle ages: children come out older, the old younger.
The age shown is the network's answer mapped onto the spread of the true ages of held-out
validation faces, which undoes most of that pull.

**The margin.** The interval after the age is calibrated on held-out faces (split-conformal,
per range of the shown age): for 80% of test faces with a similar age shown, the true age fell
inside it. It is wider for older people, whose age is harder to read, and for a face only a few
pixels across: its margin was measured on validation faces shrunk to its size.

**Known limits.** Errors are largest for the elderly, who tend to be estimated years too young,
while children and teenagers tend to be estimated a few years too old; gender is least reliable
for young children. Unusual poses, heavy make-up, masks, strong lighting and pictures unlike
UTKFace's chips (drawings, very low resolution) give unreliable answers. Gender is predicted as
a binary label because the data set has only two; it says nothing about a person's identity.

**Reading the maps.** Where a map is weak the face shows through. All methods but two give
relative maps: red marks the pixels that moved the prediction most. Occlusion and integrated
gradients answer in years (age) and percentage points of the probability of "female" (gender),
signed: red means older or more female, blue younger or more male. Occlusion is the plainest: a grey
square slides over the face, and each part is coloured by how much covering it changed the
estimate. Each method's result in the sanity check of Adebayo et al. (2018) is shown beside
the method picker: a method passes when its maps change completely once the model's weights are
replaced by random ones, so that they show what the model learnt. {sanity_summary} Methods that
fail keep much of the face's outline even for a random network; they stay in the menu, marked,
for teaching: read them as "where the edges are that the model is sensitive to", with care.

**Privacy.** Photos are processed in memory. Nothing you upload is stored: Gradio's temporary
copies are deleted within three minutes and nothing is logged or flagged.
"""


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Age and gender, explained", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(
            "# Age and gender, explained\nUpload a face photo: two neural networks estimate "
            "the age (with a margin) and the gender, and saliency maps show what they looked at."
        )
        faces_state = gr.State([])
        with gr.Tab("Predict"):
            with gr.Row():
                with gr.Column(scale=1):
                    photo = PhotoInput(
                        label="Photo",
                        type="filepath",
                        image_mode=None,
                        sources=["upload", "webcam", "clipboard"],
                        height=360,
                    )
                    variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
                    run = gr.Button("Estimate age and gender", variant="primary")
                    examples_slot = gr.Column()
                with gr.Column(scale=1):
                    labelled = gr.Image(label="Result", type="pil", format="jpeg", height=360)
                    note = gr.Markdown(elem_id="result-note")
                    table = gr.Dataframe(label="Faces", interactive=False, elem_id="faces-table")
            gr.Markdown("### Why? Saliency maps of the selected face")
            with gr.Row():
                face = gr.Dropdown(label="Face", choices=[], interactive=True)
                method = gr.Dropdown(
                    sanity.menu("cropped"), value="gradcam", label="Method", elem_id="method"
                )
                opacity = gr.Slider(0, 1, value=MAP_OPACITY, step=0.05, label="Map opacity")
            verdict = gr.Markdown(sanity.note("gradcam", "cropped"), elem_id="method-verdict")
            with gr.Accordion("Method options: occlusion, integrated gradients", open=False):
                patch = gr.Slider(4, 32, value=OCCLUSION_PATCH_PIXELS, step=1, label=PATCH_LABEL)
                stride = gr.Slider(0, 16, value=0, step=1, label=STRIDE_LABEL)
                baseline = gr.Radio(list(BASELINES), value="black", label=BASELINE_LABEL)
            with gr.Row():
                age_map = gr.Image(label="Age model", height=MAP_HEIGHT, elem_id="age-map")
                gender_map = gr.Image(label="Gender model", height=MAP_HEIGHT, elem_id="gender-map")
            with gr.Row():
                make_slide = gr.Button("Make a slide of every method (1920x1080 PNG)")
            slide_image = gr.Image(
                label="Presentation figure (download button at the top right)",
                type="pil",
                format="png",
                buttons=["download", "fullscreen"],
                interactive=False,
            )
            api_result = gr.JSON(visible=False)
            with examples_slot:
                gr.Examples(
                    [[str(p), "cropped"] for p in example_photos()],
                    inputs=[photo, variant],
                    outputs=[labelled, table, faces_state, face, note],
                    fn=analyse,
                    cache_examples=True,
                    cache_mode="lazy",
                    label="Examples: public-domain photos (credits: webapp/examples), drawn faces",
                )
        live_tab(VARIANT_CHOICES)
        many_photos_tab(VARIANT_CHOICES)
        with gr.Tab("Training metrics"):
            curves_variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
            age_curves = gr.Plot(figures.training_curves("cropped", "age"))
            gender_curves = gr.Plot(figures.training_curves("cropped", "gender"))
        with gr.Tab("Evaluation"):
            gr.Markdown("Test split: faces that played no part in training or tuning.")
            gr.Dataframe(figures.headline_table(), interactive=False)
            gr.Plot(figures.error_by_age_bucket())
            eval_variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
            with gr.Row():
                scatter = gr.Plot(figures.predicted_against_true("cropped"))
                confusion = gr.Plot(figures.confusion_matrix("cropped"))
            coverage = gr.Plot(figures.interval_coverage("cropped"))
            groups = gr.Dataframe(figures.group_table("cropped"), interactive=False)
        with gr.Tab("Average saliency maps"):
            gr.Markdown(
                "Grad-CAM averaged over the test faces of each age bucket and gender, drawn "
                "over their average face: what each model looks at, on average."
            )
            maps_variant = gr.Radio(VARIANT_CHOICES, value="cropped", label="Model")
            age_gallery = gr.Gallery(
                average_map_gallery("cropped", "age"), label="Age model", columns=10
            )
            gender_gallery = gr.Gallery(
                average_map_gallery("cropped", "gender"), label="Gender model", columns=10
            )
        with gr.Tab("About"):
            gr.Markdown(about_text())

        map_inputs = [faces_state, face, method, opacity, patch, stride, baseline]
        run.click(
            analyse,
            [photo, variant],
            [labelled, table, faces_state, face, note],
            api_name="analyse",
            api_visibility="undocumented",
        ).then(face_maps, map_inputs, [age_map, gender_map])
        for control in (face, method, opacity, patch, stride, baseline):
            control.change(
                face_maps,
                map_inputs,
                [age_map, gender_map],
                api_name="face_maps" if control is method else None,
                api_visibility="undocumented",
            )
        method.change(sanity.note, [method, variant], verdict, api_visibility="undocumented")
        variant.change(
            method_menu, [method, variant], [method, verdict], api_visibility="undocumented"
        )
        make_slide.click(
            slide, [faces_state, face, opacity], slide_image, api_visibility="undocumented"
        )
        gr.Button(visible=False).click(
            predict_json, [photo, variant], api_result, api_name="predict"
        )
        curves_variant.change(
            lambda v: (figures.training_curves(v, "age"), figures.training_curves(v, "gender")),
            curves_variant,
            [age_curves, gender_curves],
            api_visibility="undocumented",
        )
        eval_variant.change(
            lambda v: (
                figures.predicted_against_true(v),
                figures.confusion_matrix(v),
                figures.interval_coverage(v),
                figures.group_table(v),
            ),
            eval_variant,
            [scatter, confusion, coverage, groups],
            api_visibility="undocumented",
        )
        maps_variant.change(
            lambda v: (average_map_gallery(v, "age"), average_map_gallery(v, "gender")),
            maps_variant,
            [age_gallery, gender_gallery],
            api_visibility="undocumented",
        )
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks | None = None, **options):
    """Start the demo; host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT."""
    for variant in VARIANT_NAMES:
        predictor(variant)  # load before the first visitor, not during their request
    demo = demo or build_demo()
    return demo.launch(
        max_file_size=MAX_FILE_SIZE,
        theme=gr.themes.Soft(),
        footer_links=["api"],
        **options,
    )

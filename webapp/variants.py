"""The model switch the Gradio tabs share: an unknown variant is a readable error."""

from __future__ import annotations

import gradio as gr

from model.predictor import VARIANT_NAMES, Predictor, shared_predictor


def check_variant(variant: str) -> None:
    """Raise a `gr.Error` the user can read unless `variant` is 'cropped' or 'full'."""
    if variant not in VARIANT_NAMES:
        raise gr.Error(f"Unknown model {variant!r}: choose 'cropped' or 'full'.")


def predictor(variant: str) -> Predictor:
    """The shared predictor of a variant; an unknown variant is a readable error."""
    check_variant(variant)
    return shared_predictor(variant)

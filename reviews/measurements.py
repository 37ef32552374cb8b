"""A proposal's measurements in words and units people know, for the review panel: the engine
stores them under its own keys (``delta_e2000_before``, ``flicker_added_l``, ``*_fraction``);
this is the one place that names them. A key it does not know is shown as words, never raw."""
import json

# key → (label, unit). Units: "ΔE" (CIEDE2000), "L*" / "a*" / "b*" (CIELAB, 0–100 / ±),
# "%" (the stored value is a 0–1 share), "stops", "frames/s", "s", "px", "levels" (8-bit code values),
# "view" (an OCIO display and view, {"display", "view"}).
LABELS: dict[str, tuple[str, str]] = {
    "colour_measured_in": ("Colour figures measured in (OCIO display · view)", "view"),
    "delta_e2000_before": ("Colour difference to the reference, before", "ΔE"),
    "delta_e2000_after": ("Colour difference to the reference, after", "ΔE"),
    "mean_l_reference": ("Lightness of the reference", "L*"),
    "mean_l_before": ("Lightness before", "L*"),
    "mean_l_after": ("Lightness after", "L*"),
    "mean_a_reference": ("Green–red of the reference", "a*"),
    "mean_a_before": ("Green–red before", "a*"),
    "mean_a_after": ("Green–red after", "a*"),
    "mean_b_reference": ("Blue–yellow of the reference", "b*"),
    "mean_b_before": ("Blue–yellow before", "b*"),
    "mean_b_after": ("Blue–yellow after", "b*"),
    "flicker_source_l": ("Flicker of the shot, frame to frame", "ΔL*"),
    "flicker_after_l": ("Flicker after the fix, frame to frame", "ΔL*"),
    "flicker_added_l": ("Flicker the fix added", "ΔL*"),
    "exposure_stops": ("Exposure change", "stops"),
    "white_balance_gain_r": ("White balance: red gain against green", "×"),
    "white_balance_gain_b": ("White balance: blue gain against green", "×"),
    "grain_sigma_plate": ("Grain of the plate (σ)", "levels"),
    "grain_sigma_shot": ("Grain of the shot (σ)", "levels"),
    "grain_sigma_added": ("Grain added to the fixed region (σ)", "levels"),
    "grain_changing_share": ("Share of the grain that changes frame to frame", "%"),
    "warping_error_inside": ("Temporal warping error inside the region", ""),
    "warping_error_outside": ("Temporal warping error outside the region", ""),
    "warping_error_ratio": ("Warping error, inside ÷ outside", "×"),
    "frames_per_second": ("Speed", "frames/s"),
    "rebuilt_frames_per_second": ("Speed of rebuilding", "frames/s"),
    "apply_frames_per_second": ("Speed of applying the look", "frames/s"),
    "margin_px": ("Margin around the mask", "px"),
    "train_delta_e2000_mean": ("Look model's colour error in training, mean", "ΔE"),
    "train_delta_e2000_p95": ("Look model's colour error in training, 95th percentile", "ΔE"),
    "train_seconds": ("Training time", "s"),
    "heldout_delta_e2000_mean": ("Look model's colour error on held-out frames, mean", "ΔE"),
    "heldout_delta_e2000_p95": ("Look model's colour error on held-out frames, 95th percentile", "ΔE"),
    "learned_model": ("Model used (the production's learned model version, or the classical method)", ""),
    "unseen_colours_fraction": ("Share of this shot's colours never in the look's training pairs", "%"),
}


def _words(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _format(value, unit: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "view" and isinstance(value, dict):
        return f"{value.get('display')} · {value.get('view')}"
    if isinstance(value, (int, float)):
        if unit == "%":
            return f"{value * 100:.1f} %"
        number = f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"
        return f"{number} {unit}".strip()
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def describe(metrics: dict) -> list[dict[str, str]]:
    """``[{"key", "label", "value"}]``: each measurement with a label in words and its value
    formatted with its unit (shares as percentages, numbers to three decimals), in the order
    stored."""
    rows = []
    for key, value in metrics.items():
        share = key.endswith("_fraction")
        label, unit = LABELS.get(key, (f"{_words(key.removesuffix('_fraction'))} (share)" if share else _words(key),
                                       "%" if share else ""))
        rows.append({"key": key, "label": label, "value": _format(value, unit)})
    return rows

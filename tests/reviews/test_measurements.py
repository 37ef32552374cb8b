"""The review panel's measurements in words and units, never the engine's raw keys."""
from reviews.measurements import describe


def test_measurements_read_as_words_with_units():
    rows = describe({"delta_e2000_before": 1.68359, "flicker_added_l": 0.0044, "filled_spatially_fraction": 0.125,
                     "keyframes": 3, "new_engine_figure": 2.5,
                     "colour_measured_in": {"display": "sRGB - Display", "view": "Video (colorimetric)"}})
    assert [(row["label"], row["value"]) for row in rows] == [
        ("Colour difference to the reference, before", "1.684 ΔE"),
        ("Flicker the fix added", "0.004 ΔL*"),
        ("Filled spatially (share)", "12.5 %"),
        ("Keyframes", "3"),
        ("New engine figure", "2.500"),
        ("Colour figures measured in (OCIO display · view)", "sRGB - Display · Video (colorimetric)"),
    ]
    assert all("_" not in row["label"] for row in rows)

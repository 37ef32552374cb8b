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


def test_the_method_names_the_one_that_ran():
    """A shot match's method says which transfer ran, not "MKL … or Reinhard" (issue 25)."""
    from reviews.fixes import FIXES
    from reviews.models import FixKind

    match = FIXES[FixKind.COLOR_MATCH]
    ran = {choice: match.method_for({"method": choice}) for choice in ("mkl", "reinhard", "balance")}
    assert "Monge–Kantorovich" in ran["mkl"] and "Reinhard" not in ran["mkl"]
    assert "Reinhard" in ran["reinhard"] and "Monge" not in ran["reinhard"]
    assert "white balance" in ran["balance"]
    assert match.method_for({}) == ran["mkl"]  # the default
    assert all(" or " not in text for text in ran.values())

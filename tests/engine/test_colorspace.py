"""engine.ops.cielab: CIELAB conversion and CIEDE2000 against published reference data."""

import pytest
import torch

from engine.ops.cielab import delta_e2000, lab_to_srgb, srgb_to_lab

# G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000 color-difference formula: implementation
# notes, supplementary test data, and mathematical observations", Color Research &
# Application 30(1):21-30, 2005, Table 1 — all 34 pairs: L1 a1 b1 L2 a2 b2 ΔE00.
SHARMA_2005_TABLE_1 = """
50.0000 2.6772 -79.7751 50.0000 0.0000 -82.7485 2.0425
50.0000 3.1571 -77.2803 50.0000 0.0000 -82.7485 2.8615
50.0000 2.8361 -74.0200 50.0000 0.0000 -82.7485 3.4412
50.0000 -1.3802 -84.2814 50.0000 0.0000 -82.7485 1.0000
50.0000 -1.1848 -84.8006 50.0000 0.0000 -82.7485 1.0000
50.0000 -0.9009 -85.5211 50.0000 0.0000 -82.7485 1.0000
50.0000 0.0000 0.0000 50.0000 -1.0000 2.0000 2.3669
50.0000 -1.0000 2.0000 50.0000 0.0000 0.0000 2.3669
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0009 7.1792
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0010 7.1792
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0011 7.2195
50.0000 2.4900 -0.0010 50.0000 -2.4900 0.0012 7.2195
50.0000 -0.0010 2.4900 50.0000 0.0009 -2.4900 4.8045
50.0000 -0.0010 2.4900 50.0000 0.0010 -2.4900 4.8045
50.0000 -0.0010 2.4900 50.0000 0.0011 -2.4900 4.7461
50.0000 2.5000 0.0000 50.0000 0.0000 -2.5000 4.3065
50.0000 2.5000 0.0000 73.0000 25.0000 -18.0000 27.1492
50.0000 2.5000 0.0000 61.0000 -5.0000 29.0000 22.8977
50.0000 2.5000 0.0000 56.0000 -27.0000 -3.0000 31.9030
50.0000 2.5000 0.0000 58.0000 24.0000 15.0000 19.4535
50.0000 2.5000 0.0000 50.0000 3.1736 0.5854 1.0000
50.0000 2.5000 0.0000 50.0000 3.2972 0.0000 1.0000
50.0000 2.5000 0.0000 50.0000 1.8634 0.5757 1.0000
50.0000 2.5000 0.0000 50.0000 3.2592 0.3350 1.0000
60.2574 -34.0099 36.2677 60.4626 -34.1751 39.4387 1.2644
63.0109 -31.0961 -5.8663 62.8187 -29.7946 -4.0864 1.2630
61.2901 3.7196 -5.3901 61.4292 2.2480 -4.9620 1.8731
35.0831 -44.1164 3.7933 35.0232 -40.0716 1.5901 1.8645
22.7233 20.0904 -46.6940 23.0331 14.9730 -42.5619 2.0373
36.4612 47.8580 18.3852 36.2715 50.5065 21.2231 1.4146
90.8027 -2.0831 1.4410 91.1528 -1.6435 0.0447 1.4441
90.9257 -0.5406 -0.9208 88.6381 -0.8985 -0.7239 1.5381
6.7747 -0.2908 -2.4247 5.8714 -0.0985 -2.2286 0.6377
2.0776 0.0795 -1.1350 0.9033 -0.0636 -0.5514 0.9082
"""


def _sharma_pairs(dtype: torch.dtype) -> torch.Tensor:
    rows = [[float(v) for v in line.split()] for line in SHARMA_2005_TABLE_1.strip().splitlines()]
    assert len(rows) == 34
    return torch.tensor(rows, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_delta_e2000_reproduces_all_34_pairs_of_sharma_2005(dtype):
    table = _sharma_pairs(dtype)
    lab1, lab2, expected = table[:, :3], table[:, 3:6], table[:, 6]

    forward = delta_e2000(lab1, lab2)
    backward = delta_e2000(lab2, lab1)

    assert forward.shape == (34,) and forward.dtype == dtype
    torch.testing.assert_close(forward, expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(backward, expected, atol=1e-4, rtol=0)


def test_delta_e2000_is_zero_for_identical_colours_and_broadcasts():
    lab = _sharma_pairs(torch.float32)[:, :3]
    assert torch.all(delta_e2000(lab, lab) == 0)
    one = lab[0]
    assert delta_e2000(lab, one).shape == (34,)


def test_srgb_white_and_black_are_the_ends_of_the_lightness_axis():
    lab = srgb_to_lab(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=torch.float64))
    torch.testing.assert_close(lab, torch.tensor([[100.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64))


def test_srgb_primaries_land_on_their_published_cielab_values():
    # CIELAB (D65) of the sRGB primaries as tabulated by B. Lindbloom (brucelindbloom.com)
    # and colour-science; they differ from ours only through the matrix's rounding
    # (IEC 61966-2-1 publishes 4 decimals), hence the 0.1 tolerance.
    primaries = torch.eye(3, dtype=torch.float64)
    published = torch.tensor(
        [[53.2408, 80.0925, 67.2032], [87.7347, -86.1827, 83.1793], [32.2970, 79.1875, -107.8602]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(srgb_to_lab(primaries), published, atol=0.1, rtol=0)


def test_lab_round_trip_returns_every_8_bit_code_on_a_64_cube_grid():
    codes = torch.arange(0, 256, 4, dtype=torch.float32).clamp(max=255)
    codes = torch.cat([codes, torch.tensor([255.0])])
    grid = torch.stack(torch.meshgrid(codes, codes, codes, indexing="ij"), dim=-1).reshape(-1, 3)

    back = lab_to_srgb(srgb_to_lab(grid / 255.0))

    assert back.dtype == torch.float32
    assert (back - grid / 255.0).abs().max() < 1e-4
    assert torch.equal(torch.round(back * 255.0), grid)


def test_lab_to_srgb_clamps_out_of_gamut_colours():
    out_of_gamut = torch.tensor([[50.0, 120.0, -120.0], [120.0, 0.0, 0.0], [-10.0, 0.0, 0.0]])
    rgb = lab_to_srgb(out_of_gamut)
    assert torch.all((rgb >= 0) & (rgb <= 1))


def test_wrong_shapes_and_dtypes_are_rejected():
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\]"):
        srgb_to_lab(torch.zeros(4, 4))
    with pytest.raises(TypeError, match="floating-point"):
        delta_e2000(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, 3))

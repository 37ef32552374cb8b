"""sRGB ↔ CIELAB conversion and the CIEDE2000 colour difference, in PyTorch.

Standards followed:

- sRGB: IEC 61966-2-1:1999 — the piecewise transfer function and the 4-decimal
  linear-sRGB → CIE XYZ matrix of the standard (D65 white).
- CIELAB: CIE 15:2004 (CIE 1976 L*a*b*), reference white = the sRGB white point
  (D65) as given by the same matrix, so sRGB white maps to exactly L*=100, a*=b*=0.
- CIEDE2000: CIE 142-2001, implemented after G. Sharma, W. Wu, E. N. Dalal, "The
  CIEDE2000 color-difference formula: implementation notes, supplementary test data,
  and mathematical observations", Color Research & Application 30(1), 2005.

Every function works element-wise on the last axis, on the device and in the floating
dtype of its input. The engine passes float32 tensors on :func:`engine.device.get_device`.
"""

import torch

# IEC 61966-2-1:1999, equation (F.7): linear sRGB (D65) -> CIE XYZ.
_SRGB_TO_XYZ = (
    (0.4124, 0.3576, 0.1805),
    (0.2126, 0.7152, 0.0722),
    (0.0193, 0.1192, 0.9505),
)
# CIE 15:2004 constants for the CIELAB function f(t).
_DELTA = 6.0 / 29.0
_DELTA_CUBED = _DELTA**3
_LINEAR_SLOPE = 1.0 / (3.0 * _DELTA * _DELTA)


def _matrices(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RGB→XYZ matrix, its inverse and the white point, on ``like``'s device/dtype."""
    forward = torch.tensor(_SRGB_TO_XYZ, dtype=torch.float64)
    inverse = torch.linalg.inv(forward)
    white = forward.sum(dim=1)  # XYZ of RGB (1, 1, 1): the D65 white of the standard
    return (
        forward.to(device=like.device, dtype=like.dtype),
        inverse.to(device=like.device, dtype=like.dtype),
        white.to(device=like.device, dtype=like.dtype),
    )


def _check_last_axis(name: str, tensor: torch.Tensor) -> None:
    if not torch.is_floating_point(tensor):
        raise TypeError(f"{name} must be a floating-point tensor, got {tensor.dtype}")
    if tensor.ndim == 0 or tensor.shape[-1] != 3:
        raise ValueError(f"{name} must have shape [..., 3], got {tuple(tensor.shape)}")


def srgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB to CIELAB (D65).

    Args:
        rgb: float [..., 3] non-linear sRGB in 0..1 (IEC 61966-2-1). Values outside
            0..1 are clamped first.

    Returns:
        float [..., 3] CIELAB (L* in 0..100, a*, b* roughly -128..127), CIE 15:2004,
        same device and dtype as ``rgb``.

    Raises:
        TypeError: ``rgb`` is not a floating-point tensor.
        ValueError: the last axis of ``rgb`` is not of size 3.
    """
    _check_last_axis("rgb", rgb)
    forward, _, white = _matrices(rgb)
    c = rgb.clamp(0.0, 1.0)
    linear = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055).pow(2.4))
    xyz = linear @ forward.T
    t = xyz / white
    f = torch.where(t > _DELTA_CUBED, t.clamp(min=_DELTA_CUBED).pow(1.0 / 3.0), t * _LINEAR_SLOPE + 4.0 / 29.0)
    fx, fy, fz = f.unbind(-1)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-1)


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """Convert CIELAB (D65) to sRGB, the inverse of :func:`srgb_to_lab`.

    Colours outside the sRGB gamut are clamped per channel to 0..1 (in linear light).

    Args:
        lab: float [..., 3] CIELAB, CIE 15:2004, D65 white.

    Returns:
        float [..., 3] non-linear sRGB in 0..1 (IEC 61966-2-1), same device and dtype.

    Raises:
        TypeError: ``lab`` is not a floating-point tensor.
        ValueError: the last axis of ``lab`` is not of size 3.
    """
    _check_last_axis("lab", lab)
    _, inverse, white = _matrices(lab)
    lightness, a, b = lab.unbind(-1)
    fy = (lightness + 16.0) / 116.0
    f = torch.stack((fy + a / 500.0, fy, fy - b / 200.0), dim=-1)
    t = torch.where(f > _DELTA, f.pow(3), (f - 4.0 / 29.0) / _LINEAR_SLOPE)
    linear = ((t * white) @ inverse.T).clamp(0.0, 1.0)
    srgb = torch.where(
        linear <= 0.0031308,
        linear * 12.92,
        1.055 * linear.clamp(min=0.0031308).pow(1.0 / 2.4) - 0.055,
    )
    return srgb.clamp(0.0, 1.0)


def delta_e2000(
    lab1: torch.Tensor,
    lab2: torch.Tensor,
    *,
    k_l: float = 1.0,
    k_c: float = 1.0,
    k_h: float = 1.0,
) -> torch.Tensor:
    """CIEDE2000 colour difference ΔE00 between two CIELAB colours.

    Follows Sharma, Wu & Dalal (2005), equations (1)–(22), including their rules for
    the hue difference and mean hue when a chroma is zero and across the 0/360°
    boundary. ΔE00 ≈ 1 is about one just-noticeable difference.

    Args:
        lab1: float [..., 3] CIELAB.
        lab2: float [..., 3] CIELAB, broadcastable against ``lab1``.
        k_l, k_c, k_h: parametric weighting factors (1 for reference conditions).

    Returns:
        float [...] ΔE00 (dimensionless), same device and dtype as the inputs.
        Symmetric in its arguments.

    Raises:
        TypeError: an input is not a floating-point tensor.
        ValueError: an input's last axis is not of size 3.
    """
    _check_last_axis("lab1", lab1)
    _check_last_axis("lab2", lab2)
    lab1, lab2 = torch.broadcast_tensors(lab1, lab2)
    l1, a1, b1 = lab1.unbind(-1)
    l2, a2, b2 = lab2.unbind(-1)
    pow25_7 = 25.0**7

    # (2)-(7): a' with the G correction, C', h'.
    c1 = torch.sqrt(a1 * a1 + b1 * b1)
    c2 = torch.sqrt(a2 * a2 + b2 * b2)
    c_bar7 = ((c1 + c2) / 2.0).pow(7)
    g = 0.5 * (1.0 - torch.sqrt(c_bar7 / (c_bar7 + pow25_7)))
    a1p = (1.0 + g) * a1
    a2p = (1.0 + g) * a2
    c1p = torch.sqrt(a1p * a1p + b1 * b1)
    c2p = torch.sqrt(a2p * a2p + b2 * b2)
    h1p = torch.remainder(torch.rad2deg(torch.atan2(b1, a1p)), 360.0)
    h2p = torch.remainder(torch.rad2deg(torch.atan2(b2, a2p)), 360.0)
    h1p = torch.where((a1p == 0) & (b1 == 0), torch.zeros_like(h1p), h1p)
    h2p = torch.where((a2p == 0) & (b2 == 0), torch.zeros_like(h2p), h2p)

    # (8)-(11): differences.
    delta_lp = l2 - l1
    delta_cp = c2p - c1p
    chroma_product = c1p * c2p
    dh = h2p - h1p
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dh = torch.where(chroma_product == 0, torch.zeros_like(dh), dh)
    delta_hp = 2.0 * torch.sqrt(chroma_product) * torch.sin(torch.deg2rad(dh) / 2.0)

    # (12)-(22): weighting functions.
    l_bar = (l1 + l2) / 2.0
    c_bar_p = (c1p + c2p) / 2.0
    h_sum = h1p + h2p
    h_bar = torch.where(
        (h1p - h2p).abs() <= 180.0,
        h_sum / 2.0,
        torch.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0),
    )
    h_bar = torch.where(chroma_product == 0, h_sum, h_bar)
    t = (
        1.0
        - 0.17 * torch.cos(torch.deg2rad(h_bar - 30.0))
        + 0.24 * torch.cos(torch.deg2rad(2.0 * h_bar))
        + 0.32 * torch.cos(torch.deg2rad(3.0 * h_bar + 6.0))
        - 0.20 * torch.cos(torch.deg2rad(4.0 * h_bar - 63.0))
    )
    delta_theta = 30.0 * torch.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    c_bar_p7 = c_bar_p.pow(7)
    r_c = 2.0 * torch.sqrt(c_bar_p7 / (c_bar_p7 + pow25_7))
    l_dev2 = (l_bar - 50.0) ** 2
    s_l = 1.0 + 0.015 * l_dev2 / torch.sqrt(20.0 + l_dev2)
    s_c = 1.0 + 0.045 * c_bar_p
    s_h = 1.0 + 0.015 * c_bar_p * t
    r_t = -torch.sin(torch.deg2rad(2.0 * delta_theta)) * r_c

    term_l = delta_lp / (k_l * s_l)
    term_c = delta_cp / (k_c * s_c)
    term_h = delta_hp / (k_h * s_h)
    squared = term_l * term_l + term_c * term_c + term_h * term_h + r_t * term_c * term_h
    return torch.sqrt(squared.clamp(min=0.0))


__all__ = ["srgb_to_lab", "lab_to_srgb", "delta_e2000"]

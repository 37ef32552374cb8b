"""Forensic watermark: an invisible, keyed mark in every streamed review frame that names the
viewing session, and its detector for a leaked capture.

Method: spread-spectrum watermarking (Cox, Kilian, Leighton & Shamoon, "Secure spread spectrum
watermarking for multimedia", IEEE TIP 1997) with a periodic tile for synchronisation
(Kalker, Depovere, Haitsma & Maes, "A video watermarking system for broadcast monitoring",
SPIE 1999: the mark is one tile repeated over the picture, so a crop only shifts its phase and
the detector folds the capture onto one tile before correlating). The tile is 128 × 128 pixels
of 4 × 4-pixel chips, the sum of a synchronisation pattern and one pseudo-random ±1 pattern per
code bit, signed by the bit; the code is the 32-bit payload followed by its CRC-16/CCITT
(``binascii.crc_hqx``), so a misread payload is refused rather than misattributed. The same
luminance offset is added to R, G and B (RMS ``STRENGTH`` code values, PSNR ≈ 42 dB).

Detection whitens the capture's luma (minus a local mean), tries each scale in
``DETECTION_SCALES`` (a capture scaled to half size, say), folds the result modulo the tile,
finds the crop's phase as the peak of the circular cross-correlation with the sync pattern
(FFT), takes each code bit's correlation at that phase as a soft value, decodes them with the
Viterbi algorithm, and accepts the payload only when the sync peak stands ``SYNC_MIN_Z``
standard deviations above the surface and the CRC matches.

Channel code: the 48 bits (payload and CRC) go through the rate-1/2, constraint-length-7
convolutional code with generators 171/133 octal (CCSDS 131.0-B, the "NASA standard" code) and
six zero tail bits: 108 coded bits, each with its own pattern, decoded with soft decisions
(Viterbi 1967), worth about 5 dB over reading 48 raw bits. The residual is weighted by its
inverse local variance before folding, so flat regions (where the picture hides the mark least)
count more than textured ones (the matched filter for non-stationary host noise).

The constants were chosen on the tuning split of ``bench/watermark.py`` (the SAM 2 clips).
"""
from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.errors import ParameterError

PAYLOAD_BITS = 32
CRC_BITS = 16
MESSAGE_BITS = PAYLOAD_BITS + CRC_BITS
CONSTRAINT_LENGTH = 7
GENERATORS = (0o171, 0o133)
CODE_BITS = (MESSAGE_BITS + CONSTRAINT_LENGTH - 1) * len(GENERATORS)  # 108
CHIP = 4  # pixels per chip side
TILE_CHIPS = 32
TILE = CHIP * TILE_CHIPS  # 128 pixels
STRENGTH = 2.4  # RMS of the mark, in 8-bit code values (PSNR ≈ 40.6 dB before clipping)
SYNC_SHARE = 0.25  # of the mark's energy, for the sync pattern
# Capture size ÷ marked size tried by the detector, largest first.
DETECTION_SCALES = (1.0, 0.9, 0.8, 0.75, 2 / 3, 0.6, 0.5)
SYNC_MIN_Z = 4.0
# Frames narrower than this are enlarged to it before they are marked (``for_marking``).
MARKED_MIN_WIDTH = 960
SEED = 0x4C6F757065  # "Loupe"


@dataclass(frozen=True)
class Detection:
    """What ``detect`` read from a capture.

    ``payload`` is the 32-bit payload, or None when no mark was found (or it did not pass its
    CRC); ``confidence`` the sync peak's height in standard deviations of the correlation
    surface; ``scale`` the capture's size relative to the marked frame it was read at.
    """

    payload: int | None
    confidence: float
    scale: float


def _check_payload(payload: int) -> int:
    if not isinstance(payload, (int, np.integer)) or not 0 <= int(payload) < 2 ** PAYLOAD_BITS:
        raise ParameterError(f"watermark payload must be an integer in [0, 2^{PAYLOAD_BITS}), not {payload!r}")
    return int(payload)


def payload_from_hex(text: str) -> int:
    """``"1f2e3d4c"`` → the payload integer. Raises ``ParameterError`` unless ``text`` is 1–8
    hexadecimal digits."""
    try:
        value = int(text, 16)
    except ValueError:
        raise ParameterError(f"--payload must be hexadecimal (up to 8 digits), not {text!r}") from None
    if len(text.strip()) > PAYLOAD_BITS // 4:
        raise ParameterError(f"--payload has {PAYLOAD_BITS} bits: at most 8 hexadecimal digits, not {text!r}")
    return _check_payload(value)


def _message_bits(payload: int) -> list[int]:
    """The 48 message bits: the payload then its CRC-16/CCITT, most significant first."""
    message = (payload << CRC_BITS) | binascii.crc_hqx(payload.to_bytes(PAYLOAD_BITS // 8, "big"), 0)
    return [(message >> (MESSAGE_BITS - 1 - i)) & 1 for i in range(MESSAGE_BITS)]


def _parity(value: int) -> int:
    return bin(value).count("1") & 1


def _convolve(bits: list[int]) -> list[int]:
    """Convolutional encoding (rate 1/2, K = 7, generators 171/133 octal) of ``bits`` followed by
    K − 1 zero tail bits, so the encoder ends in state 0."""
    register, coded = 0, []
    for bit in bits + [0] * (CONSTRAINT_LENGTH - 1):
        register = ((register << 1) | bit) & ((1 << CONSTRAINT_LENGTH) - 1)
        coded += [_parity(register & generator) for generator in GENERATORS]
    return coded


@lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each next state (the last K − 1 input bits) its two predecessor states and the
    expected coded bits (±1) on each of the two branches: int [64, 2], int [64, 2], float [64, 2, 2]."""
    states = 1 << (CONSTRAINT_LENGTH - 1)
    previous = np.zeros((states, 2), np.int64)
    expected = np.zeros((states, 2, len(GENERATORS)), np.float32)
    for state in range(states):
        bit = state & 1
        for branch in range(2):
            before = (state >> 1) | (branch << (CONSTRAINT_LENGTH - 2))
            register = (before << 1) | bit
            previous[state, branch] = before
            expected[state, branch] = [2 * _parity(register & generator) - 1 for generator in GENERATORS]
    return previous, expected, np.arange(states) & 1


def _viterbi(soft: np.ndarray) -> list[int]:
    """Maximum-likelihood message bits for the soft coded values ``soft`` (float [108]; positive
    means 1) under the code of ``_convolve``, ending in state 0 (Viterbi 1967)."""
    previous, expected, input_bit = _trellis()
    steps = soft.reshape(-1, len(GENERATORS))
    metric = np.full(len(previous), -np.inf)
    metric[0] = 0.0
    choices = np.zeros((len(steps), len(previous)), np.int64)
    for step, received in enumerate(steps):
        candidates = metric[previous] + expected @ received
        choices[step] = np.argmax(candidates, axis=1)
        metric = candidates[np.arange(len(previous)), choices[step]]
    state, bits = 0, []
    for step in range(len(steps) - 1, -1, -1):
        bits.append(int(input_bit[state]))
        state = previous[state, choices[step, state]]
    return bits[::-1][:MESSAGE_BITS]


def _code_signs(payload: int) -> np.ndarray:
    """The 108 coded bits of ``payload`` as ±1 float32."""
    return np.array(_convolve(_message_bits(payload)), np.float32) * 2 - 1


@lru_cache(maxsize=1)
def _patterns() -> np.ndarray:
    """The sync pattern and one pattern per code bit: float32 [1 + 48, TILE, TILE], ±1 chips of
    CHIP × CHIP pixels, each with zero mean."""
    rng = np.random.Generator(np.random.PCG64(SEED))
    chips = rng.choice(np.array([-1.0, 1.0], np.float32), size=(1 + CODE_BITS, TILE_CHIPS, TILE_CHIPS))
    patterns = np.repeat(np.repeat(chips, CHIP, axis=1), CHIP, axis=2)
    return patterns - patterns.mean(axis=(1, 2), keepdims=True)


@lru_cache(maxsize=64)
def _mark(payload: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The mark for a ``height`` × ``width`` frame, split for saturating uint8 arithmetic:
    ``(positive, negative)`` uint8 [H, W, 3] code values to add and to subtract."""
    patterns = _patterns()
    signs = _code_signs(payload)
    sync_weight = np.sqrt(SYNC_SHARE / (1 - SYNC_SHARE) * CODE_BITS)
    tile = patterns[0] * sync_weight + np.tensordot(signs, patterns[1:], axes=1)
    tile *= STRENGTH / tile.std()
    reps = (-(-height // TILE), -(-width // TILE))
    offset = np.rint(np.tile(tile, reps)[:height, :width]).astype(np.int16)
    positive = np.clip(offset, 0, 255).astype(np.uint8)
    negative = np.clip(-offset, 0, 255).astype(np.uint8)
    return np.repeat(positive[..., None], 3, axis=2), np.repeat(negative[..., None], 3, axis=2)


def embed(frame: np.ndarray, payload: int) -> np.ndarray:
    """``frame`` with the forensic mark of ``payload`` added; a new array.

    ``frame``: uint8 [H, W, 3] (any channel order: the same offset goes to every channel) or
    float32 [H, W, 3] in [0, 1] (the offset scaled by 1/255). ``payload``: 32-bit integer.
    Raises ``ParameterError`` for a payload out of range or a frame of another shape or dtype.
    """
    payload = _check_payload(payload)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ParameterError(f"watermark embed needs frames of shape [H, W, 3], not {frame.shape}")
    positive, negative = _mark(payload, frame.shape[0], frame.shape[1])
    if frame.dtype == np.uint8:
        # Saturating uint8 arithmetic, add then subtract (as cv2.add, cv2.subtract).
        added = frame + np.minimum(positive, 255 - frame)
        return added - np.minimum(negative, added)
    if frame.dtype == np.float32:
        offset = (positive.astype(np.float32) - negative.astype(np.float32)) / 255.0
        return np.clip(frame + offset, 0.0, 1.0)
    raise ParameterError(f"watermark embed needs uint8 or float32 frames, not {frame.dtype}")


def for_marking(frame: np.ndarray) -> np.ndarray:
    """``frame`` as it is marked and streamed: unchanged when at least ``MARKED_MIN_WIDTH`` (960)
    pixels wide, else enlarged to that width (aspect kept; Lanczos, Pillow). The mark is tiles of
    128 pixels: on a sub-SD source streamed at its own size (176 × 144, 432 × 240), a capture
    halved and cropped holds less than one tile and the payload cannot be read back
    (bench/watermark.py: 12 of 100 evaluation captures missed before this); enlarged, it carries
    the mark at the size a full review frame does. The viewer shows frames fitted to the window
    anyway, and annotations are kept relative to the picture.

    ``frame``: uint8 [H, W, 3] (any channel order), or float32 [H, W, 3]; returns the same dtype
    and channels. Raises ``ParameterError`` for another shape or dtype.
    """
    from PIL import Image  # light (no OpenCV): web processes mark frames (ADR 0010)

    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype not in (np.uint8, np.float32):
        raise ParameterError(f"watermark needs uint8 or float32 frames of shape [H, W, 3], not {frame.dtype} "
                             f"{frame.shape}")
    height, width = frame.shape[:2]
    if width >= MARKED_MIN_WIDTH:
        return frame
    size = (MARKED_MIN_WIDTH, max(1, round(MARKED_MIN_WIDTH * height / width)))
    if frame.dtype == np.uint8:
        return np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize(size, Image.Resampling.LANCZOS))
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(frame[..., channel]))
                           .resize(size, Image.Resampling.LANCZOS)) for channel in range(3)]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0).astype(np.float32)


def _folded_residual(luma: np.ndarray) -> np.ndarray:
    """``luma`` minus its local mean, folded modulo the tile: float32 [TILE, TILE], the mean of
    every pixel that falls on each tile position, each weighted by the inverse of the residual's
    local variance."""
    # OpenCV for detection only: embedding (in web processes, on every marked frame) needs numpy alone
    import cv2

    residual = luma - cv2.GaussianBlur(luma, (0, 0), CHIP)
    # Large edges would dominate the sum: clip the residual to a few times its typical size.
    limit = 3.0 * float(np.median(np.abs(residual))) + 1e-6
    residual = np.clip(residual, -limit, limit)
    weight = 1.0 / (cv2.blur(residual * residual, (15, 15)) + 1.0)
    height, width = residual.shape
    padded = np.zeros((-(-height // TILE) * TILE, -(-width // TILE) * TILE), np.float32)
    counts = np.zeros_like(padded)
    padded[:height, :width] = residual * weight
    counts[:height, :width] = weight
    shape = (padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE)
    total = padded.reshape(shape).sum(axis=(0, 2))
    return total / np.maximum(counts.reshape(shape).sum(axis=(0, 2)), 1.0)


def detect(image: np.ndarray) -> Detection:
    """Read the forensic mark from a capture: ``image`` uint8 [H, W, 3] or [H, W] (a frame as
    leaked: recompressed, rescaled, cropped, brightened). Returns a ``Detection`` whose
    ``payload`` is None when no mark passes the sync threshold and the CRC.

    Raises ``ParameterError`` for an image too small to hold one tile (128 × 128 pixels at the
    marked size)."""
    # OpenCV for detection only: embedding (in web processes, on every marked frame) needs numpy alone
    import cv2

    if image.ndim == 3:
        luma = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    elif image.ndim == 2:
        luma = image.astype(np.float32)
    else:
        raise ParameterError(f"watermark detect needs an image of shape [H, W, 3] or [H, W], not {image.shape}")
    if min(luma.shape) < TILE // 2:
        raise ParameterError(f"an image of {luma.shape[1]}×{luma.shape[0]} is too small to carry the watermark")
    patterns = _patterns()
    sync_spectrum = np.conj(np.fft.rfft2(patterns[0]))
    candidates = []
    for scale in DETECTION_SCALES:
        size = (round(luma.shape[1] / scale), round(luma.shape[0] / scale))
        resized = luma if scale == 1.0 else cv2.resize(luma, size, interpolation=cv2.INTER_CUBIC)
        folded = _folded_residual(resized)
        surface = np.fft.irfft2(np.fft.rfft2(folded) * sync_spectrum, s=folded.shape)
        peak = np.unravel_index(int(np.argmax(surface)), surface.shape)
        z = float((surface[peak] - surface.mean()) / (surface.std() + 1e-12))
        candidates.append((z, scale, folded, peak))
    candidates.sort(key=lambda candidate: -candidate[0])
    for z, scale, folded, peak in candidates:
        if z < SYNC_MIN_Z:
            break
        aligned = np.roll(folded, (-peak[0], -peak[1]), axis=(0, 1))
        soft = np.tensordot(patterns[1:], aligned, axes=([1, 2], [0, 1]))
        message = 0
        for bit in _viterbi(soft / (np.abs(soft).mean() + 1e-12)):
            message = (message << 1) | bit
        payload, crc = message >> CRC_BITS, message & ((1 << CRC_BITS) - 1)
        if binascii.crc_hqx(payload.to_bytes(PAYLOAD_BITS // 8, "big"), 0) == crc:
            return Detection(payload, z, scale)
    return Detection(None, candidates[0][0], candidates[0][1])

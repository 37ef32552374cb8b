"""3D colour look-up tables: a lattice with trilinear interpolation, the industry's LUT
files through OpenColorIO, and an exact fast path for 8-bit frames.

- :class:`Lut3D` — an N×N×N lattice of output RGB over the input cube [0, 1]³, applied
  by trilinear interpolation in PyTorch (differentiable in the lattice, so a look can be
  trained; see :mod:`engine.fixes.look`). Written as an Adobe Cube LUT (Adobe "Cube LUT
  Specification" 1.0, 2013: ``LUT_3D_SIZE``, red index changing fastest).
- :class:`OcioTransform` — any colour transform file OpenColorIO 2 reads (``.cube``,
  ``.3dl``, ``.clf``/``.ctf``, ``.cdl``, ``.ccc``, ``.cc``, …) through
  ``FileTransform`` and its CPU processor.
- :class:`DenseLut8` — the engine's apply path for 8-bit footage: the transform is
  evaluated once on all 2²⁴ 8-bit RGB colours (64 MiB table), then every frame costs
  one table lookup per pixel. For 8-bit input and output this is exactly the transform
  rounded to the nearest code — no second interpolation — and it cannot flicker.

Values are non-linear RGB code values in 0..1, whatever encoding the LUT was made for
(the engine reads footage as 8-bit sRGB/BT.709-encoded RGB, see :mod:`engine.media.decode`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import FrameSourceError, FrameWriteError, ParameterError

#: File extensions read through OpenColorIO's FileTransform (lower case, with the dot).
OCIO_EXTENSIONS = frozenset({".cube", ".3dl", ".clf", ".ctf", ".cdl", ".ccc", ".cc", ".csp", ".spi3d", ".spi1d"})
_COLOURS = 1 << 24
_CHUNK = 1 << 20


def trilinear(lattice: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Trilinear interpolation of a 3D LUT lattice (differentiable in both arguments).

    Args:
        lattice: float [3, N, N, N], ``lattice[c, b, g, r]`` = output channel c at the
            lattice point (r, g, b)/(N−1) — the layout ``torch.nn.functional.grid_sample``
            wants (see :meth:`Lut3D.lattice_tensor`).
        rgb: float [P, 3] input RGB in 0..1 (values outside are clamped to the cube's
            faces), same device and dtype as ``lattice``.

    Returns:
        float [P, 3] output RGB (not clamped).
    """
    grid = (rgb.clamp(0.0, 1.0) * 2.0 - 1.0).reshape(1, 1, 1, -1, 3)
    out = F.grid_sample(lattice.unsqueeze(0), grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(3, -1).T


@dataclass
class Lut3D:
    """A 3D LUT lattice.

    Attributes:
        table: float32 [N, N, N, 3]; ``table[r, g, b]`` is the output RGB at input
            (r, g, b)/(N−1); N >= 2. Output values may lie outside 0..1.
        title: the ``TITLE`` written to a .cube file.

    Raises:
        ParameterError: the table is not [N, N, N, 3] with N >= 2, or holds NaN/inf.
    """

    table: np.ndarray
    title: str = ""

    def __post_init__(self) -> None:
        table = np.asarray(self.table, dtype=np.float32)
        n = table.shape[0] if table.ndim == 4 else 0
        if table.ndim != 4 or table.shape != (n, n, n, 3) or n < 2:
            raise ParameterError(f"a 3D LUT table must be [N, N, N, 3] with N >= 2, got {list(table.shape)}")
        if not np.isfinite(table).all():
            raise ParameterError("a 3D LUT table must hold finite values")
        self.table = np.ascontiguousarray(table)

    @property
    def size(self) -> int:
        """N, the number of lattice points along each axis."""
        return self.table.shape[0]

    @classmethod
    def identity(cls, size: int = 33, title: str = "") -> Lut3D:
        """The LUT that leaves every colour as it is (``table[r, g, b] = (r, g, b)/(N−1)``)."""
        axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
        r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
        return cls(np.stack((r, g, b), axis=-1), title=title)

    @classmethod
    def from_lattice_tensor(cls, lattice: torch.Tensor, title: str = "") -> Lut3D:
        """Inverse of :meth:`lattice_tensor` (float [3, N, N, N] ``[c, b, g, r]``)."""
        return cls(lattice.detach().to("cpu", torch.float32).permute(3, 2, 1, 0).contiguous().numpy(), title=title)

    def lattice_tensor(self, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The lattice as float [3, N, N, N] ``[c, b, g, r]`` for :func:`trilinear`."""
        return torch.from_numpy(self.table).permute(3, 2, 1, 0).contiguous().to(device=device, dtype=dtype)

    def apply_float(self, rgb: torch.Tensor) -> torch.Tensor:
        """Apply by trilinear interpolation: float [P, 3] RGB in 0..1 → float [P, 3] (not clamped)."""
        return trilinear(self.lattice_tensor(rgb.device, rgb.dtype), rgb)

    def float_processor(self):
        """OpenColorIO's float CPU processor of this lattice (``Lut3DTransform``, linear =
        trilinear interpolation like :func:`trilinear`, input clamped to the cube): its
        ``applyRGB(frame)`` transforms a C-contiguous float32 [..., 3] array in place — the
        fast way to apply a trained look to float frames."""
        import PyOpenColorIO as OCIO  # imported here: only looks need it

        transform = OCIO.Lut3DTransform()
        transform.setGridSize(self.size)
        # table[r, g, b] flattened with b fastest: OpenColorIO's order for setData.
        transform.setData(np.ascontiguousarray(self.table.reshape(-1), dtype=np.float32))
        transform.setInterpolation(OCIO.INTERP_LINEAR)
        return OCIO.Config.CreateRaw().getProcessor(transform).getDefaultCPUProcessor()

    def write_cube(self, path: str | os.PathLike, *, comments: Sequence[str] = ()) -> Path:
        """Write an Adobe Cube LUT 1.0 file (``TITLE``, ``LUT_3D_SIZE``, domain 0..1, then
        ``comments`` as ``#`` lines, one ``R G B`` line per lattice point with red changing
        fastest), atomically.

        Raises:
            FrameWriteError: the file cannot be written.
        """
        path = Path(path)
        # Rows in cube order: b outer, g, r inner → table[r, g, b] transposed to [b, g, r].
        rows = self.table.transpose(2, 1, 0, 3).reshape(-1, 3)
        title = self.title.replace('"', "'")
        lines = [f'TITLE "{title}"' if title else "# Loupe look", f"LUT_3D_SIZE {self.size}",
                 "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
        lines += [f"# {comment}" for comment in comments]
        body = "\n".join(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in rows.tolist())
        temp = path.parent / f".{path.name}.partial-{uuid.uuid4().hex[:12]}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text("\n".join(lines) + "\n" + body + "\n", encoding="ascii")
            os.replace(temp, path)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise FrameWriteError(f"LUT {path} could not be written: {exc}") from exc
        return path


class OcioTransform:
    """A colour transform file read and applied through OpenColorIO 2.

    Reads whatever ``OCIO.FileTransform`` reads (.cube Iridas/Resolve, .3dl, CLF/CTF,
    ASC CDL .cdl/.ccc/.cc, …); .cdl/.ccc collections use their first correction unless
    ``cccid`` names one. Interpolation is linear (trilinear for 3D LUTs).

    Args:
        path: the transform file.
        cccid: the ColorCorrection id (or index) inside a .ccc/.cdl collection.

    Raises:
        FrameSourceError: the file does not exist or OpenColorIO cannot read it (the
            message carries OpenColorIO's reason).
    """

    def __init__(self, path: str | os.PathLike, *, cccid: str | None = None) -> None:
        import PyOpenColorIO as OCIO  # imported here: only looks need it

        self.path = Path(path)
        if not self.path.is_file():
            raise FrameSourceError(f"colour transform {self.path} does not exist")
        transform = OCIO.FileTransform(src=str(self.path), interpolation=OCIO.INTERP_LINEAR)
        if cccid is not None:
            transform.setCCCId(cccid)
        try:
            processor = OCIO.Config.CreateRaw().getProcessor(transform)
        except OCIO.Exception as exc:
            raise FrameSourceError(f"{self.path.name} is not a colour transform OpenColorIO can read: {exc}") from exc
        self._processor = processor
        self._float = processor.getDefaultCPUProcessor()
        self._ocio = OCIO

    def apply_float(self, rgb: np.ndarray) -> np.ndarray:
        """Apply to float32 [..., 3] RGB (a new array; out-of-range values pass through)."""
        from engine.media.colour import apply_cpu  # imported here: only looks need OCIO

        return apply_cpu(self._float, np.array(rgb, dtype=np.float32, order="C", copy=True))

    def uint8_processor(self):
        """OpenColorIO's own optimised CPU processor for uint8 RGB in and out.

        Its ``applyRGB(frame)`` transforms a C-contiguous uint8 [H, W, 3] array in place.
        """
        OCIO = self._ocio
        return self._processor.getOptimizedCPUProcessor(OCIO.BIT_DEPTH_UINT8, OCIO.BIT_DEPTH_UINT8,
                                                        OCIO.OPTIMIZATION_DEFAULT)

    def to_lut3d(self, size: int = 33) -> Lut3D:
        """Sample the transform on an N³ lattice (exact at the lattice points)."""
        identity = Lut3D.identity(size, title=self.path.stem)
        return Lut3D(self.apply_float(identity.table), title=self.path.stem)


def load_look(path: str | os.PathLike) -> OcioTransform:
    """Read a look/LUT file through OpenColorIO (see :class:`OcioTransform`).

    Raises:
        FrameSourceError: missing file or a format OpenColorIO cannot read; the
            extension must be one of :data:`OCIO_EXTENSIONS`.
    """
    path = Path(path)
    if path.suffix.lower() not in OCIO_EXTENSIONS:
        raise FrameSourceError(
            f"{path.name}: unknown look file type; expected one of {', '.join(sorted(OCIO_EXTENSIONS))}"
        )
    return OcioTransform(path)


class DenseLut8:
    """An 8-bit RGB → 8-bit RGB table over all 2²⁴ colours: the fast apply path.

    Memory: 64 MiB (one packed 32-bit entry per colour). Building evaluates the
    transform on 16.7 M colours once (about a second on a CPU); applying costs one
    gather per pixel, split over ``threads`` threads (NumPy releases the GIL).

    Args:
        transform: maps float32 [P, 3] RGB in 0..1 (NumPy) to float [P, 3] RGB; the
            result is clamped to 0..1 and rounded to the nearest 8-bit code.
        threads: threads used by :meth:`apply` (default: the CPU count, at most 8).
    """

    def __init__(self, transform: Callable[[np.ndarray], np.ndarray], *, threads: int | None = None) -> None:
        self._table = np.empty(_COLOURS, dtype=np.uint32)
        entries = self._table.view(np.uint8).reshape(-1, 4)
        codes = np.arange(_CHUNK, dtype=np.uint32)
        for start in range(0, _COLOURS, _CHUNK):
            c = codes + start
            rgb = np.stack(((c >> 16) & 255, (c >> 8) & 255, c & 255), axis=-1).astype(np.float32) / 255.0
            out = np.asarray(transform(rgb), dtype=np.float32)
            entries[start:start + _CHUNK, :3] = np.rint(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)
        entries[:, 3] = 0
        self._threads = max(1, min(8, threads or os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self._threads) if self._threads > 1 else None

    @classmethod
    def from_lut3d(cls, lut: Lut3D, **kwargs) -> DenseLut8:
        """The table of a :class:`Lut3D` applied by trilinear interpolation (on the CPU)."""
        lattice = lut.lattice_tensor(torch.device("cpu"))

        def transform(rgb: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return trilinear(lattice, torch.from_numpy(rgb)).numpy()

        return cls(transform, **kwargs)

    @classmethod
    def from_ocio(cls, transform: OcioTransform, **kwargs) -> DenseLut8:
        """The table of an OpenColorIO transform (its float CPU processor)."""
        return cls(transform.apply_float, **kwargs)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Transform a frame.

        Args:
            frame: uint8 [H, W, 3] RGB.

        Returns:
            uint8 [H, W, 3] RGB, a new C-contiguous array.

        Raises:
            ParameterError: ``frame`` is not uint8 [H, W, 3].
        """
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            described = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise ParameterError(f"frame must be uint8 [H, W, 3], got {described}")
        height, width = frame.shape[:2]
        out = np.empty((height, width, 4), dtype=np.uint8)
        packed = out.view(np.uint32).reshape(height, width)
        if self._pool is None or height < 2 * self._threads:
            self._rows(frame, packed, 0, height)
        else:
            bounds = np.linspace(0, height, self._threads + 1).astype(int)
            list(self._pool.map(lambda i: self._rows(frame, packed, bounds[i], bounds[i + 1]), range(self._threads)))
        return np.ascontiguousarray(out[..., :3])

    def _rows(self, frame: np.ndarray, packed: np.ndarray, top: int, bottom: int) -> None:
        part = frame[top:bottom]
        index = part[..., 0].astype(np.uint32) << 16
        index |= part[..., 1].astype(np.uint32) << 8
        index |= part[..., 2]
        np.take(self._table, index, out=packed[top:bottom])

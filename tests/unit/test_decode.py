"""Bad and unusual image inputs: each gets a typed error or a correct decode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceprint.errors import ImageTooLarge, InvalidImage, InvalidParameter
from faceprint.imaging import DecodeLimits, load_image
from tests.factories import encode, gradient, png_bomb


def _jpeg() -> bytes:
    return encode(Image.fromarray(gradient(64, 48)), "JPEG", quality=90)


@pytest.mark.parametrize(
    ("name", "payload", "error"),
    [
        ("empty file", b"", InvalidImage),
        ("truncated JPEG", _jpeg()[: len(_jpeg()) // 2], InvalidImage),
        ("random bytes", np.random.default_rng(0).bytes(4096), InvalidImage),
        ("text", b"hello, this is not an image", InvalidImage),
        ("decompression bomb PNG", png_bomb(), ImageTooLarge),
    ],
)
def test_bad_bytes_raise_typed_errors(name: str, payload: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_image(payload)


def test_bomb_is_refused_before_decoding_in_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    code = (
        "import sys\n"
        "from faceprint.imaging import load_image\n"
        "from faceprint.errors import ImageTooLarge\n"
        f"try:\n    load_image({str(bomb)!r})\nexcept ImageTooLarge:\n    pass\nelse:\n    sys.exit('decoded the bomb')\n"
        # VmHWM: this process's own peak (ru_maxrss would carry the parent's across exec)
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    peak_kib = int(out.stdout.strip().splitlines()[-1])
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib} KiB: the bomb was (partly) decoded"


def test_byte_limit_is_checked_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(_jpeg())
    with pytest.raises(ImageTooLarge):
        load_image(big, limits=DecodeLimits(max_bytes=100))
    with pytest.raises(ImageTooLarge):
        load_image(_jpeg(), limits=DecodeLimits(max_bytes=100))


def test_pixel_limit() -> None:
    with pytest.raises(ImageTooLarge):
        load_image(_jpeg(), limits=DecodeLimits(max_pixels=100))


def test_missing_file_folder_device_and_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter):
        load_image("/no/such/file.jpg")
    with pytest.raises(InvalidParameter, match="not a regular file"):
        load_image(tmp_path)
    with pytest.raises(InvalidParameter, match="not a regular file"):
        load_image("/dev/zero")  # would never end if read
    with pytest.raises(InvalidParameter):
        load_image(12345)  # type: ignore[arg-type]


def test_one_pixel_image_decodes() -> None:
    out = load_image(encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"))
    assert out.shape == (1, 1, 3) and out[0, 0].tolist() == [10, 20, 30]


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    a = np.array([[0, 32768, 65535]], dtype=np.uint16)
    out = load_image(encode(Image.fromarray(a), "PNG"))
    assert out.dtype == np.uint8 and out.shape == (1, 3, 3)
    assert out[0, :, 0].tolist() == [0, 127, 255]


def test_cmyk_jpeg_becomes_rgb() -> None:
    im = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(encode(im, "JPEG", quality=95))
    assert out.shape == (16, 16, 3)
    r, g, b = out[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_rgba_is_composited_over_white() -> None:
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 255
    a[:, :2, 3] = 255  # left half opaque red, right half transparent
    out = load_image(encode(Image.fromarray(a, "RGBA"), "PNG"))
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 3].tolist() == [255, 255, 255]


def test_grayscale_has_three_equal_channels() -> None:
    out = load_image(encode(Image.fromarray(gradient()[:, :, 0]), "PNG"))
    assert out.shape == (48, 64, 3)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = load_image(gif)
    assert out.shape == (8, 8, 3)
    assert out[4, 4, 0] > 200 and out[4, 4, 2] < 50


@pytest.mark.parametrize(("orientation", "corner"), [(1, (0, 0)), (3, (-1, -1)), (6, (0, -1)), (8, (-1, 0))])
def test_exif_orientation_is_applied(orientation: int, corner: tuple[int, int]) -> None:
    a = np.zeros((40, 60, 3), np.uint8)
    a[:10, :10] = (255, 0, 0)  # a red marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(encode(Image.fromarray(a), "JPEG", quality=95, exif=exif.tobytes()))
    if orientation in (6, 8):
        assert out.shape[:2] == (60, 40)
    else:
        assert out.shape[:2] == (40, 60)
    y, x = (3 if corner[0] == 0 else out.shape[0] - 4), (3 if corner[1] == 0 else out.shape[1] - 4)
    assert out[y, x, 0] > 200 and out[y, x, 1] < 60, f"marker not in the expected corner for orientation {orientation}"


@pytest.mark.parametrize(
    ("array", "error"),
    [
        (np.zeros((4, 4), np.float32), InvalidParameter),
        (np.zeros((4, 4, 2), np.uint8), InvalidParameter),
        (np.zeros((0, 4, 3), np.uint8), InvalidImage),
        (np.zeros((2, 2, 2, 2), np.uint8), InvalidParameter),
    ],
)
def test_bad_arrays(array: np.ndarray, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_image(array)


def test_arrays_are_accepted_as_rgb() -> None:
    a = gradient()
    assert np.array_equal(load_image(a), a)
    assert load_image(np.zeros((5, 6), np.uint8)).shape == (5, 6, 3)


# A minimal EPS: Pillow identifies it from the header and hands the pixels to Ghostscript.
TINY_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\n0 setgray 0 0 8 8 rectfill\nshowpage\n%%EOF\n"


def test_eps_is_refused_before_ghostscript_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a host with Ghostscript, Pillow would run it on the caller's PostScript. A stand-in
    for Ghostscript records whether it was reached."""
    from PIL import EpsImagePlugin

    ran: list[tuple[int, int]] = []

    def ghostscript(tile: object, size: tuple[int, int], fp: object, scale: int = 1, transparency: bool = False) -> object:
        ran.append(size)
        return Image.new("RGB", size).im

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    with pytest.raises(InvalidImage, match="JPEG, PNG"):
        load_image(TINY_EPS)
    assert ran == []


@pytest.mark.parametrize("fmt", ["PPM", "TGA", "ICO", "PCX", "SGI", "QOI", "DDS", "IM", "XBM", "SPIDER"])
def test_formats_we_do_not_document_are_refused(fmt: str) -> None:
    im = Image.new("L" if fmt in ("XBM", "SPIDER") else "RGB", (16, 16), 200)
    if fmt == "XBM":
        im = im.convert("1")
    elif fmt == "SPIDER":
        im = im.convert("F")
    with pytest.raises(InvalidImage, match="JPEG, PNG"):
        load_image(encode(im, fmt))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_documented_formats_decode(fmt: str) -> None:
    out = load_image(encode(Image.fromarray(gradient()), fmt))
    assert out.shape == (48, 64, 3)


def test_sixteen_bit_png_decodes_without_wide_copies() -> None:
    """An 80 MP 16-bit PNG of 177 KB once peaked at 1.5 GB: its pixels went through int64
    arrays. The numpy memory of decoding a 16-bit image must stay below one int64 copy."""
    import tracemalloc

    w, h = 3000, 2000
    data = encode(Image.fromarray(np.full((h, w), 40000, np.uint16)), "PNG")
    tracemalloc.start()
    try:
        out = load_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (h, w, 3) and int(out[0, 0, 0]) == 40000 * 255 // 65535
    assert peak < 8 * w * h, f"decoding peaked at {peak / 1e6:.0f} MB of numpy memory"


def test_image_size_reads_the_header_only() -> None:
    from faceprint.imaging import image_size

    assert image_size(_jpeg()) == (64, 48)
    with pytest.raises(ImageTooLarge):
        image_size(png_bomb())  # 400 MP declared, nothing decoded
    with pytest.raises(InvalidImage):
        image_size(TINY_EPS)


def test_thirty_two_bit_gray_is_scaled_by_its_peak() -> None:
    a = np.array([[0, 1000, 70000, -5]], dtype=np.int32)
    out = load_image(encode(Image.fromarray(a, "I"), "TIFF"))
    assert out.shape == (1, 4, 3) and out[0, :, 0].tolist() == [0, 3, 255, 0]


@pytest.mark.parametrize("peak", [256, 262, 300, 1000, 65_537, 2**31 - 1])
def test_thirty_two_bit_gray_peak_is_white_whatever_its_value(peak: int) -> None:
    a = np.array([[0, peak // 2, peak]], dtype=np.int32)
    out = load_image(encode(Image.fromarray(a, "I"), "TIFF"))
    assert out[0, :, 0].tolist() == [0, peak // 2 * 255 // peak, 255]

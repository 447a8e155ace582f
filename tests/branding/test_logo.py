"""Logos from uploads: the accepted formats come out as square WebP variants with no
metadata; everything else (other formats, text, truncated data, too many bytes, too many
pixels) is refused with a reason, judged by the content."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from branding.logo import MAX_BYTES, MAX_PIXELS, SIZES, LogoError, logo_variants, sniff
from tests.branding.helpers import (
    GPS_IFD,
    image_bytes,
    jpeg_with_gps,
    large_blank_png,
    png_declaring,
)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_each_accepted_format_becomes_square_webp_variants(fmt):
    logo = logo_variants(image_bytes(fmt, (300, 200)))
    assert sorted(logo.variants) == sorted(SIZES)
    for side, data in logo.variants.items():
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.size) == ("WEBP", (side, side))


def test_the_square_is_the_centre_of_the_image():
    # 300 x 200, red then blue halves: the centred 200 x 200 is half red, half blue.
    image = Image.open(io.BytesIO(logo_variants(image_bytes("PNG", (300, 200))).variants[512]))
    left, right = image.convert("RGB").getpixel((10, 256)), image.getpixel((500, 256))
    assert left[0] > 200 and left[2] < 60, left
    assert right[2] > 200 and right[0] < 60, right


def test_exif_gps_and_camera_do_not_survive():
    upload = jpeg_with_gps()
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(GPS_IFD)  # the input has GPS
    for data in logo_variants(upload).variants.values():
        image = Image.open(io.BytesIO(data))
        assert not image.getexif(), image.getexif()
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert b"SecretCam" not in data


def test_an_icc_profile_and_text_chunks_do_not_survive():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone-private")
    upload = image_bytes("PNG", pnginfo=info, icc_profile=b"fake-icc-profile-bytes" * 4)
    for data in logo_variants(upload).variants.values():
        assert b"someone-private" not in data and b"fake-icc" not in data


def test_the_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display: 300 x 200 stored shows as 200 x 300
    upload = image_bytes("JPEG", (300, 200), exif=exif.tobytes())
    image = Image.open(io.BytesIO(logo_variants(upload).variants[512])).convert("RGB")
    # Displayed upright the red half is on top, the blue half below.
    top, bottom = image.getpixel((256, 10)), image.getpixel((256, 500))
    assert top[0] > 200 and bottom[2] > 200, (top, bottom)


def test_transparency_is_kept():
    canvas = Image.new("RGBA", (64, 64), (255, 0, 0, 255))
    canvas.paste((0, 0, 0, 0), (0, 0, 64, 32))  # the top half transparent
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    image = Image.open(io.BytesIO(logo_variants(out.getvalue()).variants[64]))
    assert image.mode == "RGBA"
    assert image.getpixel((32, 5))[3] == 0 and image.getpixel((32, 60))[3] == 255


def test_the_same_upload_has_the_same_digest():
    upload = image_bytes("PNG")
    assert logo_variants(upload).sha256 == logo_variants(upload).sha256
    assert len(logo_variants(upload).sha256) == 64


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (image_bytes("GIF"), "logo_unsupported_type"),
        (b"hello, I am a text file, not a logo\n" * 10, "logo_unsupported_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo_unsupported_type"),
        (image_bytes("PNG")[:200], "logo_unreadable"),
        (image_bytes("JPEG")[:300], "logo_unreadable"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 garbage", "logo_unreadable"),
        (b"", "logo_missing"),
    ],
    ids=["gif", "text", "svg", "truncated-png", "truncated-jpeg", "bad-webp", "empty"],
)
def test_what_is_not_a_readable_png_jpeg_or_webp_is_refused(data, code):
    with pytest.raises(LogoError) as refused:
        logo_variants(data)
    assert refused.value.code == code, refused.value.message


def test_a_file_named_png_but_holding_a_gif_is_judged_by_its_bytes():
    assert sniff(image_bytes("GIF")) is None
    assert sniff(image_bytes("PNG")) == "PNG"


def test_more_than_two_megabytes_is_refused_before_decoding():
    upload = image_bytes("PNG") + os.urandom(MAX_BYTES)
    with pytest.raises(LogoError) as refused:
        logo_variants(upload)
    assert (refused.value.code, refused.value.status) == ("logo_too_large", 413)


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = png_declaring(30_000, 30_000)  # 900 M pixels declared in ~100 bytes
    assert len(bomb) < 2_000
    with pytest.raises(LogoError) as refused:
        logo_variants(bomb)
    assert refused.value.code == "logo_too_many_pixels"


def test_a_valid_image_over_the_pixel_cap_is_refused():
    # 6,000 x 6,000 = 36 M pixels: under Pillow's own limits, over ours.
    side = 6_000
    assert side * side > MAX_PIXELS and side * side < Image.MAX_IMAGE_PIXELS
    with pytest.raises(LogoError) as refused:
        logo_variants(large_blank_png(side))
    assert refused.value.code == "logo_too_many_pixels"
    assert "6000 x 6000" in refused.value.message

"""Upload size limits: the 200,000² decompression bomb, the zip whose members each pass the
ratio check but whose whole does not, and the raster header limits as service settings.

Expected figures are computed here from the files' construction (member sizes and counts, the
archive's size on disk, the raster's declared width and height).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geoeco.cli import main

from .conftest import assert_problem
from .test_uploads import client_for, settings_for, upload


def bomb_bytes(tmp_path: Path, n: int = 200_000) -> bytes:
    """A sparse n × n tiled GeoTIFF (512² blocks, one written) inside China."""
    p = tmp_path / f"bomb{n}.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="uint8",
        crs="EPSG:4490",
        transform=from_origin(100.0, 40.0, 10.0 / n, 10.0 / n),
        nodata=0,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        sparse_ok=True,
        compress="deflate",
        BIGTIFF="YES",
    ) as ds:
        ds.write(np.full((1, 512, 512), 7, np.uint8), window=((0, 512), (0, 512)))
    return p.read_bytes()


def test_bomb_is_413_at_upload_and_at_layers_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bomb_bytes(tmp_path)
    assert len(data) < 2_000_000  # 1.8 MB
    with client_for(settings_for(tmp_path)) as c:
        r = upload(c, data, role="evaluation", layer_id="user.bomb", filename="bomb.tif")
        body = assert_problem(r, 413, "OversizeRequest")
        assert "bomb.tif: 200,000 × 200,000 = 40,000,000,000 pixels" in body["detail"]
        assert not (tmp_path / "data" / "uploads" / "user.bomb").exists()
    f = tmp_path / "bomb.tif"
    f.write_bytes(data)
    assert main(["layers", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "OversizeRequest" in err and "40,000,000,000 pixels" in err


def _zip_of_ones(members: int, size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for i in range(members):
            z.writestr(f"part{i:03d}.txt", b"\0" * size)
    return buf.getvalue()


def test_whole_archive_ratio_is_capped(tmp_path: Path) -> None:
    """Issue 12: 199 members of 1 MiB each (each at the 1 MiB threshold, so the per-member
    check never applies) in an archive of about 224 KB unpack to 208,666,624 bytes, under the
    old 500 MB and the new 250 MB total: only the whole-archive ratio (~930:1 > 250:1) stops it.
    """
    data = _zip_of_ones(199, 1 << 20)
    total = 199 * (1 << 20)
    assert total == 208_666_624 and 150_000 < len(data) < 300_000
    with client_for(settings_for(tmp_path)) as c:
        r = upload(c, data, role="protected", layer_id="user.zipbomb", filename="z.zip")
        detail = assert_problem(r, 413, "OversizeRequest")["detail"]
        assert f"unpacks to {total:,} bytes from {len(data):,}" in detail
        assert f"({total / len(data):,.0f}:1)" in detail and "250:1" in detail
        assert not (tmp_path / "data" / "uploads" / "user.zipbomb").exists()


def test_default_unpacked_cap_is_250_mb() -> None:
    from geoeco_api.settings import Settings

    from geoeco.core.uploads import ZipLimits

    assert Settings().max_upload_unpacked_bytes == 250_000_000
    assert ZipLimits().max_total_bytes == 250_000_000


def test_raster_limits_are_service_settings(tmp_path: Path) -> None:
    """A 1,000 × 1,000 raster (1 Mpx, 512² tiles: 2 × 2 = 4 blocks) against lowered limits."""
    data = bomb_bytes(tmp_path, n=1000)
    cases = [
        ({"max_raster_pixels": 999_999}, "1,000 × 1,000 = 1,000,000 pixels; at most 999,999"),
        ({"max_raster_blocks": 3}, "4 blocks; at most 3"),
        ({"max_raster_block_bytes": 262_143}, "holds 262,144 bytes; at most 262,143"),
    ]
    for i, (kw, words) in enumerate(cases):
        with client_for(settings_for(tmp_path / str(i), **kw)) as c:
            r = upload(c, data, role="evaluation", layer_id="user.r", filename="r.tif")
            assert words in assert_problem(r, 413, "OversizeRequest")["detail"]
    with client_for(settings_for(tmp_path / "ok")) as c:
        r = upload(c, data, role="evaluation", layer_id="user.r", filename="r.tif")
        assert r.status_code == 201, r.text


def test_settings_cannot_exceed_the_library_limits() -> None:
    from geoeco_api.settings import Settings
    from pydantic import ValidationError

    from geoeco.core.userdata import DEFAULT_LIMITS

    with pytest.raises(ValidationError):
        Settings(max_raster_pixels=DEFAULT_LIMITS.max_raster_pixels + 1)
    s = Settings(max_raster_pixels=10, max_vector_features=5)
    assert s.user_data_limits.max_raster_pixels == 10
    assert s.user_data_limits.max_vector_features == 5

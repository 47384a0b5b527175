"""The demo camera: a user's first space gets it, and its video is H.264 without B-frames."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from orin.config import IngestSettings, Settings
from orin.ingest.demo import DEMO_NAME, demo_source, prepare_demo_video
from tests.fixtures.api import open_api


@pytest.mark.parametrize("adapter_set", ["embedded"], indirect=True)
async def test_the_first_space_gets_the_demo_camera(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"ingest": IngestSettings(demo_camera=True)})
    if demo_source(settings) is None:
        pytest.fail("no vtest.avi: install opencv-doc or provide ../shared/data")
    async with open_api(settings) as api:
        alice = await api.sign_up()
        space = await alice.create_space()
        cameras = (await alice.get("/api/v1/cameras")).json()["items"]
        assert [(c["name"], c["space_id"], c["recording_mode"]) for c in cameras] == [
            (DEMO_NAME, space["id"], "off")
        ]
        assert cameras[0]["main_url"].startswith("file:///")


async def test_the_demo_video_is_h264_without_b_frames(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    video = await prepare_demo_video(settings)
    assert video is not None
    assert await prepare_demo_video(settings) == video  # made once
    process = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json",
        str(video), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    stream = json.loads(out)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 768, 576)
    assert stream["has_b_frames"] == 0

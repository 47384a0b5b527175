"""The FFmpeg argv for one camera: RTSP in, stream copy out to live HLS and recording segments.

No transcoding: the camera's H.264/H.265 is copied, so a camera costs little CPU. Live HLS uses
short independent segments with program date time, so players can start at any segment and
know wall-clock time; recording segments are cut at key frames every
``record_segment_s`` seconds and named by their UTC start.
"""

from __future__ import annotations

from orin.config import IngestSettings
from orin.ingest.frames import FrameOutput
from orin.ingest.layout import PLAYLIST, RECORDING_PATTERN, SEGMENT_PATTERN, CameraFiles

LOW_BITRATE = "600k"
SOURCE_NOMINAL_BITRATE = "4000k"


def input_args(url: str, settings: IngestSettings) -> list[str]:
    """Options that open the camera: RTSP transport and timeouts (file URLs loop forever)."""
    if url.startswith("file://"):
        return ["-re", "-stream_loop", "-1", "-i", url.removeprefix("file://")]
    timeout_us = str(int(settings.io_timeout_s * 1_000_000))
    return [
        "-rtsp_transport",
        settings.rtsp_transport,
        "-timeout",
        timeout_us,
        "-fflags",
        "+genpts",
        "-i",
        url,
    ]


def _hls_options(settings: IngestSettings) -> list[str]:
    return [
        "-f",
        "hls",
        "-hls_time",
        f"{settings.hls_segment_s:g}",
        "-hls_list_size",
        str(settings.hls_list_size),
        "-hls_flags",
        "independent_segments+program_date_time+delete_segments+temp_file",
    ]


def _copy_hls(files: CameraFiles, settings: IngestSettings) -> list[str]:
    """The camera's stream as it is: one playlist, ``index.m3u8``."""
    return [
        "-map",
        "0:v:0",
        "-c",
        "copy",
        *_hls_options(settings),
        "-hls_segment_filename",
        str(files.root / SEGMENT_PATTERN),
        str(files.playlist),
    ]


def _ladder_hls(files: CameraFiles, settings: IngestSettings) -> list[str]:
    """A master ``index.m3u8`` over two renditions: ``source/`` (copied) and ``low/`` (360p
    H.264, key frames every second so its segments line up with the source's)."""
    return [
        "-map",
        "0:v:0",
        "-map",
        "0:v:0",
        "-c:v:0",
        "copy",
        # A copied stream has no bitrate FFmpeg knows; without one it leaves the rendition out
        # of the master playlist. This nominal figure only orders the renditions for players.
        "-b:v:0",
        SOURCE_NOMINAL_BITRATE,
        "-c:v:1",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-filter:v:1",
        "scale=-2:360",
        "-b:v:1",
        LOW_BITRATE,
        "-force_key_frames:v:1",
        "expr:gte(t,n_forced*1)",
        *_hls_options(settings),
        "-master_pl_name",
        PLAYLIST,
        "-var_stream_map",
        "v:0,name:source v:1,name:low",
        "-hls_segment_filename",
        str(files.root / "%v" / SEGMENT_PATTERN),
        str(files.root / "%v" / PLAYLIST),
    ]


def _detect_frames(frames: FrameOutput, input_index: int) -> list[str]:
    """Decoded frames at the detect rate and size, as YUV4MPEG2 on the inherited pipe."""
    height = frames.height if frames.height else -2
    return [
        "-map",
        f"{input_index}:v:0",
        "-an",
        "-filter:v",
        f"fps={frames.fps:g},scale={frames.width}:{height}",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "yuv4mpegpipe",
        f"pipe:{frames.fd}",
    ]


def camera_command(
    url: str,
    files: CameraFiles,
    settings: IngestSettings,
    *,
    record: bool,
    ladder: bool = False,
    frames: FrameOutput | None = None,
) -> list[str]:
    """The whole argv: ``ffmpeg <input> <live HLS> [<recording segments>] [<detect frames>]``;
    with ``ladder`` the live HLS is the adaptive two-rendition form (`_ladder_hls`). A detect
    sub-stream is opened as a second input of the same process."""
    second_input = input_args(frames.detect_url, settings) if frames and frames.detect_url else []
    argv = [
        settings.ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "level+warning",
        "-progress",
        "pipe:1",
        "-stats_period",
        "1",
        *input_args(url, settings),
        *second_input,
        *(_ladder_hls(files, settings) if ladder else _copy_hls(files, settings)),
    ]
    if record:
        argv += [
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-f",
            "segment",
            "-segment_time",
            str(settings.record_segment_s),
            "-segment_format",
            "mpegts",
            "-segment_list",
            str(files.recording_list),
            "-segment_list_type",
            "csv",
            "-reset_timestamps",
            "1",
            "-strftime",
            "1",
            str(files.recordings / RECORDING_PATTERN),
        ]
    if frames is not None:
        argv += _detect_frames(frames, 1 if second_input else 0)
    return argv

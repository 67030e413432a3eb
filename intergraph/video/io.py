"""Reading videos: files decoded with PyAV (mp4, avi, mkv, webm, ...) and folders of numbered frames.

``open_video(path)`` gives a reader with ``num_frames`` and ``read(indices) -> (len(indices), H, W, 3) uint8``
RGB. Nothing is cached unless the caller asks (``cache_frames``). A truncated or corrupt file, a folder with a
missing or unreadable frame, or a file that is not a video raises :class:`VideoDataError` naming it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")


class VideoDataError(InputError):
    """A video or annotation that cannot be used; the message names the file and the problem."""


@dataclass
class FrameFolder:
    """Frames ``folder / template.format(start + i)`` for i = 0..num_frames-1 (``%05d.jpg`` style templates
    are accepted too). ``num_frames`` is counted from the files unless given (e.g. from a split list)."""

    folder: Path
    template: str = "{:04d}.jpg"
    start: int = 1
    num_frames: int | None = None

    def __post_init__(self):
        self.folder = Path(self.folder)
        self.template = re.sub(r"%0(\d+)d", r"{:0\1d}", self.template)
        if not self.folder.is_dir():
            raise VideoDataError(f"{self.folder}: no such frame folder")
        if self.num_frames is None:
            n = 0
            while (self.folder / self.template.format(self.start + n)).exists():
                n += 1
            if n == 0:
                raise VideoDataError(f"{self.folder}: no frame {self.template.format(self.start)}")
            self.num_frames = n

    @property
    def name(self) -> str:
        return str(self.folder)

    def read(self, indices) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        out = []
        for i in indices:
            path = self.folder / self.template.format(self.start + int(i))
            try:
                with Image.open(path) as im:
                    out.append(np.asarray(im.convert("RGB")))
            except FileNotFoundError:
                raise VideoDataError(f"{self.folder}: frame {path.name} is missing") from None
            except (UnidentifiedImageError, OSError) as e:
                raise VideoDataError(f"{path}: unreadable frame ({e})") from None
        if len({f.shape for f in out}) > 1:
            raise VideoDataError(f"{self.folder}: frames of different sizes {sorted({f.shape for f in out})}")
        return np.stack(out)


class VideoFile:
    """A video file decoded with PyAV. The whole stream is decoded once per ``read`` (clips of a few seconds,
    as in Something-Something); frames are counted by decoding, not trusted from the header."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise VideoDataError(f"{self.path}: no such video file")
        self._frames: np.ndarray | None = None
        self.fps = 0.0
        self.num_frames = self._decode(count_only=True)

    @property
    def name(self) -> str:
        return str(self.path)

    def _decode(self, stop: int | None = None, count_only: bool = False):
        """RGB frames 0..stop-1 (all without ``stop``), or only their number."""
        import av

        frames, n = [], 0
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise VideoDataError(f"{self.path}: no video stream")
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                self.fps = float(stream.average_rate or 0)
                for frame in container.decode(stream):
                    n += 1
                    if not count_only:
                        frames.append(frame.to_ndarray(format="rgb24"))
                    if stop is not None and n >= stop:
                        break
        except VideoDataError:
            raise
        except (av.error.FFmpegError, OSError, ValueError) as e:
            raise VideoDataError(f"{self.path}: cannot decode ({e})") from None
        if n == 0:
            raise VideoDataError(f"{self.path}: no decodable frames (truncated or not a video)")
        return n if count_only else np.stack(frames)

    def cache_frames(self) -> None:
        """Keep the decoded frames in memory (only on request: a long video is large)."""
        self._frames = self._decode()

    def read(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_frames):
            raise VideoDataError(f"{self.path}: frame {int(idx.max())} requested of {self.num_frames}")
        frames = self._frames if self._frames is not None else self._decode(stop=int(idx.max()) + 1 if idx.size else 1)
        return frames[idx]


def open_video(path: str | Path, template: str = "{:04d}.jpg", start: int = 1,
               num_frames: int | None = None) -> FrameFolder | VideoFile:
    """A reader for a video file or a frame folder."""
    path = Path(path)
    if path.is_dir():
        return FrameFolder(path, template, start, num_frames)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise VideoDataError(f"{path}: not a frame folder nor a video file ({', '.join(VIDEO_SUFFIXES)})")
    return VideoFile(path)

"""Audio, video, screen shares and whiteboards: perceptual, keyed fingerprints.

Audio (and the sound of videos) is fingerprinted by spectral-peak landmarks
(:mod:`.audio`), images and video frames by 64-bit perceptual hashes
(:mod:`.image`), searched by multi-index hashing (:mod:`.index`). Everything is
keyed per tenant before it is stored (:mod:`.store`, in the registry's
``media/`` folder). Decoding needs the ``media`` extra (PyAV, Pillow).
"""

from .decode import KINDS, Kind, MediaError, MediaUnavailable, kind_of_name
from .matcher import MediaConfig, MediaMatcher
from .run import MediaAddResult, MediaScanSummary, register_media, scan_media
from .store import MediaItem, MediaRegistry

__all__ = [
    "KINDS",
    "Kind",
    "MediaAddResult",
    "MediaConfig",
    "MediaError",
    "MediaItem",
    "MediaMatcher",
    "MediaRegistry",
    "MediaScanSummary",
    "MediaUnavailable",
    "kind_of_name",
    "register_media",
    "scan_media",
]

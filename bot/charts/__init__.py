"""PNG charts for `/portfolio`, sized and lettered for a phone screen.

Pure, synchronous functions: data and every user-visible string in (the caller translates and
formats), PNG bytes out. The same input gives the same bytes. Rendering takes a CPU for a
fraction of a second, so async callers run it in a thread (`asyncio.to_thread`); the object API
used here (no pyplot) is safe for that.
"""

from bot.charts.abc_xyz import abc_xyz_heatmap
from bot.charts.activity import activity_per_week
from bot.charts.quality import MAX_PANELS, class_shares, quality_trend

__all__ = [
    "MAX_PANELS",
    "abc_xyz_heatmap",
    "activity_per_week",
    "class_shares",
    "quality_trend",
]

"""Week-over-week surge detection over complaint count tables (pure functions, numpy/scipy only).

See surges/README.md for the statistics and the rules for missing data.
"""

from voc.surges.backtest import backtest, find_missing_periods, parse_periods
from voc.surges.cells import count_table
from voc.surges.detect import bh, detect, detect_panel
from voc.surges.extras import Concentration, GlobalRise, batch_concentration, global_rise
from voc.surges.panel import Panel, build_panel
from voc.surges.params import SurgeParams

__all__ = [
    "Concentration",
    "GlobalRise",
    "Panel",
    "SurgeParams",
    "backtest",
    "batch_concentration",
    "bh",
    "build_panel",
    "count_table",
    "detect",
    "detect_panel",
    "find_missing_periods",
    "global_rise",
    "parse_periods",
]

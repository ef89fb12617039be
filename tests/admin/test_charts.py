"""The server-drawn charts: what a sparkline draws, and that its label is escaped."""

from __future__ import annotations

import re

import pytest

from jobqueue.admin.charts import FAILED, sparkline

pytestmark = pytest.mark.database_independent


def test_sparkline_draws_one_bar_per_value_scaled_to_the_peak() -> None:
    svg = str(sparkline([0, 2, 4], '3 failures <over> the "week" & more', width=30, height=20))
    assert svg.startswith('<svg class="jq-spark" role="img" aria-label="3 failures &lt;over&gt; the &quot;week')
    assert "<title>3 failures &lt;over&gt; the &quot;week&quot; &amp; more</title>" in svg
    bars = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="([^"]+)"/>', svg)
    assert bars == [
        ("0.0", "19.0", "9.0", "1.0", "#d0d0d0"),  # nothing: a grey stub of 1 px
        ("10.0", "10.0", "9.0", "10.0", FAILED),  # half the peak
        ("20.0", "0.0", "9.0", "20.0", FAILED),  # the peak: full height
    ]
    assert 'viewBox="0 0 30 20" width="30" height="20"' in svg


def test_an_empty_sparkline_is_an_empty_chart() -> None:
    svg = str(sparkline([], "no failures"))
    assert "<rect" not in svg
    assert svg.endswith("<title>no failures</title></svg>")

from __future__ import annotations

import pytest

from retrieval.dates import PartialDate, human_date


@pytest.mark.parametrize(("raw", "iso", "human"), [
    ("2013-01-23", "2013-01-23", "23 January 2013"),
    ("2013-01", "2013-01", "January 2013"),
    ("2013", "2013", "2013"),
    ("2014-09-29T07:54:10Z", "2014-09-29", "29 September 2014"),
])
def test_parse_keeps_precision(raw, iso, human):
    date = PartialDate.parse(raw)
    assert date.iso() == iso
    assert date.human() == human


@pytest.mark.parametrize("raw", ["2013-02-30", "2013-13", "13/01/2013", "", "January 2013"])
def test_bad_dates_are_refused(raw):
    with pytest.raises(ValueError):
        PartialDate.parse(raw)


def test_unknown_date_reads_as_such():
    assert human_date(None) == "date unknown"


def test_month_sorts_within_its_month():
    assert PartialDate(2013, 1, 2).ordinal() < PartialDate(2013, 1).ordinal() < PartialDate(2013, 1, 30).ordinal()

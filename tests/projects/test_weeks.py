import datetime

import pytest

from stagesub.projects.weeks import iso_week, monday_of, next_monday_of_week, weeks_in_year


def test_iso_weeks_across_year_ends():
    assert iso_week(datetime.date(2025, 12, 29)) == (2026, 1)
    assert iso_week(datetime.date(2027, 1, 1)) == (2026, 53)
    assert weeks_in_year(2026) == 53 and weeks_in_year(2027) == 52
    assert monday_of(2026, 53) == datetime.date(2026, 12, 28)
    with pytest.raises(ValueError):
        monday_of(2027, 53)


def test_week_number_means_the_coming_one():
    today = datetime.date(2026, 11, 23)  # week 48
    assert next_monday_of_week(48, today) == datetime.date(2026, 11, 23)
    assert next_monday_of_week(50, today) == datetime.date(2026, 12, 7)
    assert next_monday_of_week(10, today) == datetime.date(2027, 3, 8)
    assert next_monday_of_week(53, today) == datetime.date(2026, 12, 28)

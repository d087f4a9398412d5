"""Business days and public holidays of a customer's country, vectorized with numpy's busday functions.

Holidays come from the ``holidays`` package (the same source the simulator uses). A country code the
package does not know (or a blank one, as in a CSV without a country column) gets weekends only.
"""

from __future__ import annotations

from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

HOLIDAY_WINDOW_DAYS = 14  # payment runs that fall into a holiday cluster (Christmas, Easter) slip


@lru_cache(maxsize=256)
def holiday_dates(country: str, first_year: int, last_year: int) -> np.ndarray:
    """Public holidays of ``country`` (ISO 3166-1 alpha-2) as ``datetime64[D]``; empty when unknown."""
    code = (country or "").strip().upper()
    if len(code) != 2:
        return np.array([], dtype="datetime64[D]")
    try:
        h = holidays.country_holidays(code, years=range(first_year, last_year + 1))
    except NotImplementedError:
        return np.array([], dtype="datetime64[D]")
    return np.array(sorted(h.keys()), dtype="datetime64[D]")


def calendar_features(invoice_day: np.ndarray, due_day: np.ndarray, country: np.ndarray) -> pd.DataFrame:
    """Per invoice: business days from issue to due, whether the due date is a business day, days
    to the next business day, and weekday holidays in the two weeks after the due date."""
    inv = invoice_day.astype("datetime64[D]")
    due = due_day.astype("datetime64[D]")
    n = len(due)
    out = {
        "bdays_to_due": np.zeros(n, dtype="float64"),
        "due_is_business_day": np.zeros(n, dtype="float64"),
        "due_next_bday_offset": np.zeros(n, dtype="float64"),
        "holidays_after_due": np.zeros(n, dtype="float64"),
    }
    if n == 0:
        return pd.DataFrame(out)
    years = pd.DatetimeIndex(np.concatenate([inv, due]).astype("datetime64[s]")).year
    y0, y1 = int(years.min()), int(years.max()) + 1
    codes, uniques = pd.factorize(pd.Series(country).fillna("").astype(str))
    for i, c in enumerate(uniques):
        sel = codes == i
        hol = holiday_dates(c, y0, y1)
        cal = np.busdaycalendar(holidays=hol)
        d, v = due[sel], inv[sel]
        out["bdays_to_due"][sel] = np.busday_count(v, d, busdaycal=cal)
        out["due_is_business_day"][sel] = np.is_busday(d, busdaycal=cal)
        out["due_next_bday_offset"][sel] = (np.busday_offset(d, 0, roll="forward", busdaycal=cal) - d).astype(
            int
        )
        end = d + np.timedelta64(HOLIDAY_WINDOW_DAYS, "D")
        out["holidays_after_due"][sel] = np.busday_count(d, end) - np.busday_count(d, end, busdaycal=cal)
    return pd.DataFrame(out)

# One date format and one date-and-time format for Korean pages, long or short (Django's defaults mixed
# "2026-12-5", "2026년 12월 5일" and "12:56 오후" on one page): ISO dates, 24-hour times.
DATE_FORMAT = SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "n월 j일"
YEAR_MONTH_FORMAT = "Y년 n월"

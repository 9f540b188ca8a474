# One date format and one date-and-time format for English pages (Django's defaults mixed "12/05/2026"
# and "Dec. 5, 2026" on one page): day, abbreviated month, year; 24-hour times as on the Korean pages.
DATE_FORMAT = SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"

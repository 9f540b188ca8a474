"""The data API (issue 16): tables and SQL over published versions, access and metering."""

"""Data as a service (issue 16): every published table answers queries over HTTP (/api/v1/data/).

views.py (thin: data_access → admit → engine → finish), selectors.py (which dataset, version and tables a URL
names), formats.py (JSON, CSV, GeoJSON bodies), openapi.py (the OpenAPI 3.1 document of each table),
serializers.py (the request and response shapes for drf-spectacular); access.py and metering.py decide who reads
what and count the calls."""

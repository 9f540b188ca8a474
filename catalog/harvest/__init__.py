"""Harvesting: the exchange gathers other catalogs (CKAN Action API portals and DCAT-AP endpoints) as listings of
an organization. See docs/interop.md."""

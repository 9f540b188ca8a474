"""Refunds: services (every write), policy (what a buyer may ask for), selectors, forms and the pages."""

"""Delivery: packages built by the workers (packaging.py), expiring signed links and ranged downloads
(downloads.py), and their services."""

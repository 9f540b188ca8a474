"""Signals other apps listen to (the catalog never imports them)."""

from django.dispatch import Signal

# Sent after the transaction that published a version commits: kwargs version (DatasetVersion).
# transactions listens to deliver the new version to subscribers.
version_published = Signal()

"""The small shared core every app builds on: domain errors, the audit trail, the one state
transition, e-mail after commit and absolute URLs.

Dependencies run one way: core ← accounts ← catalog ← transactions. core imports none of them
(the audit trail names the organization model by its label, as Django names the user model).
"""

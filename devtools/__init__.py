"""Development-only apps: installed only when a setting asks for them (never in production)."""

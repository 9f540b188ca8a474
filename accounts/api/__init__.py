"""The accounts app's API: key authentication, scopes, the acting organization, and the key and `me` endpoints."""

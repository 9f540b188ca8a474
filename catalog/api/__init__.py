"""This app's API (/api/v1/): thin views over its services and selectors."""

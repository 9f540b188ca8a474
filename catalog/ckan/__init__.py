"""The read core of CKAN's Action API over the public catalog (issue 17): see catalog.ckan.actions."""

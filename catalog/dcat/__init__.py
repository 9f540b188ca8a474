"""DCAT-AP 3.0.1 output of the public catalog (issue 17): vocabularies (vocab.py), rdflib graphs (graph.py),
the documents and content negotiation (views.py, urls.py)."""

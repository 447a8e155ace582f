"""The raids API: ``raids`` for the community's raid managers, ``participation`` for
the people who join."""

"""Benchmarks of pole-graph: synthetic projects at a target size, build stages and stored queries.

Run ``python -m bench --help`` from the repository root. ``bench.generate`` writes a synthetic
project (the real ontology, schemes, shapes and queries; synthetic data only); ``bench.worker``
holds the measurements, each run in its own process so that peak memory is per size and a stage
that runs too long can be stopped; ``bench.report`` turns the raw results into Markdown.
Raw results go to ``bench/results/`` (git-ignored); the summaries are appended to
``docs/benchmarks.md``.
"""

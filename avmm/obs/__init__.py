"""Observability: the metric catalogue, the Prometheus exporter and ``avmm stat``.

:mod:`~avmm.obs.families` turns the runtime's statistics records into metric
families; :mod:`~avmm.obs.exporter` serves them; :mod:`~avmm.obs.stat` reads
them back for a terminal.
"""

"""Experiment sweeps: many ``avmm run`` points from one file, locally or on Ray.

:mod:`~avmm.sweep.experiment` reads the file, :mod:`~avmm.sweep.point` runs one
point in a child process, :mod:`~avmm.sweep.backends` runs many (a local pool
or Ray tasks), :mod:`~avmm.sweep.runner` keeps DIR resumable,
:mod:`~avmm.sweep.table` and :mod:`~avmm.sweep.report` write the table, the
plots and the summary, and :mod:`~avmm.sweep.cli` is ``avmm sweep``.
"""

from __future__ import annotations

from avmm.sweep.experiment import Axis, Experiment, Figure, Point, load

__all__ = ["Axis", "Experiment", "Figure", "Point", "load"]

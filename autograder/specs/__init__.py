"""The trusted checks: one spec per checked function, and what reads them.

- ``spec.py``: what a spec holds (``FunctionSpec``: case builder, term isolation, edges,
  replay, known mistakes, ways to write it right, mutants) and the rewrites of the reference;
- ``gates.py``: the gate template (one spec per activation for every act(W [x, prev] + b));
- ``rnn.py``, ``lstm.py``, ``gru.py``, ``sequence.py``, ``multilayer.py``, ``language.py``: the specs of the
  checked functions of the rnnkit module of the same name;
- ``cases.py``: the cases of every check, built from the specs (visible, hidden, budget);
- ``judge.py``: expected values and known mistakes from the reference, and the scores;
- ``calibrate.py``: the tolerances' margins, from the specs' right ways and mistakes.

A new checked function needs its entry in ``autograder/checks/registry.py`` (what ships to
learners: lesson, points, output names, parameter class) and its spec in the module file
here, added to that module's ``SPECS``; tests/test_specs.py fails while a piece is missing.

``SPECS``: {check id: FunctionSpec} of every spec, in registry order (a spec the registry does
not list comes last).
"""

from autograder.checks.registry import CHECKS

from . import gru, language, lstm, multilayer, rnn, sequence

MODULES = (rnn, lstm, gru, sequence, multilayer, language)
_ORDER = {c.check_id: i for i, c in enumerate(CHECKS)}
_ALL = [spec for module in MODULES for spec in module.SPECS]
SPECS = {spec.check_id: spec for spec in sorted(_ALL, key=lambda s: _ORDER.get(s.check_id, len(_ORDER)))}

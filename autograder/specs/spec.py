"""What the trusted spec of one checked function holds, and the pieces specs share.

A ``FunctionSpec`` says everything the trusted side knows about checking one learner
function (``autograder/checks/registry.py`` holds the facts that ship to learners:
lesson, points, output names, parameter class):

- ``build(rng, B, D, H, term, big, unbatched)``: the arguments of one case (a tuple),
  drawn from ``rng``; ``term`` is None or one of ``terms``' keys (term isolation),
  ``big`` asks for pre-activations (or states) up to |50|, ``unbatched`` for 1-D inputs;
- ``terms`` and ``edges``: [(key, label)] of the term-isolation and edge cases
  (edge keys "B1", "D=H", "unbatched", "big" change the sizes or flags given to ``build``;
  any other edge key is given to ``build`` as its ``term``, e.g. multilayer's "same");
- ``replay(args, kwargs)``: for a function that calls other learner functions, the
  results those calls should get ([(check id, args, result)], from the reference), so the
  function is graded on its own; ``no_replay`` says why a composed function has none;
- ``diagnose(args, kwargs)``: [(check id, args, output index or None)]: output ``index`` of
  the function is what that learner function returns on ``args`` (values of the case and
  its replay table only, never the answer). The executor calls the learner's own function
  on them, so that a wrong output can be blamed on the function that made it (a message
  only, see ``autograder.checks.compare``);
- ``mistakes``: known mistakes, each a function with the learner function's signature;
  the judge names one when the learner's output matches it;
- ``right``: ways to write the function right (``Rewrite``s of the reference's solution
  region), measured by ``calibrate`` and required to get full marks by the mutation tests;
- ``mutants``: rewrites that must lose points (``recognised``: a piece of the known
  mistake's name the message must carry), and ``shortcuts``: rewrites through the shipped
  reference tools, which must be refused;
- ``term_kwargs``: keyword arguments of the cases of one term; ``budget``: (B, D, H) of
  the large timed case of a backward pass (see ``cases.budget_cases``).

A rewrite's ``change`` is a new body (source text, indented as at the top of the
function) or a list of (old, new[, count]) text replacements inside the reference's
solution region; ``mutate`` applies it to a module's source and ``realise`` compiles the
result as a function of the reference package.
"""

import dataclasses
import textwrap
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from autograder import paths
from autograder.building import stubs


class Mistake(NamedTuple):
    """A known mistake: its name and hint (shown to the learner) and a function with the learner
    function's signature that makes it."""

    name: str
    hint: str
    function: Callable


class Rewrite(NamedTuple):
    """A rewrite of the reference's solution region of the function (see the module docstring)."""

    name: str
    change: str | list


class Mutant(NamedTuple):
    """A rewrite that must lose points; ``recognised``: a piece of the known mistake's name the
    judge's message must carry (None: no mistake needs to be named)."""

    name: str
    change: str | list
    recognised: str | None


@dataclasses.dataclass(frozen=True)
class FunctionSpec:
    check_id: str
    build: Callable
    terms: list
    edges: list
    mistakes: list
    right: list
    mutants: list
    replay: Callable | None = None
    no_replay: str = ""
    diagnose: Callable | None = None
    term_kwargs: dict = dataclasses.field(default_factory=dict)
    budget: tuple | None = None
    shortcuts: list = dataclasses.field(default_factory=list)


# ---- case building shared by several specs ---------------------------------------------------


def uniform(rng, shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape)


def concat(x, y):
    return np.concatenate([x, y], axis=-1)


# The edge keys ``cases`` acts on itself (sizes, flags); any other edge key goes to ``build`` as its term.
SIZE_AND_FLAG_EDGES = ("B1", "D=H", "unbatched", "big")
STEP_EDGES = [
    ("B1", "B = 1"),
    ("D=H", "D = H"),
    ("unbatched", "unbatched 1-D inputs"),
    ("big", "pre-activations up to |50|"),
]
COMPOSED_TERMS = [
    ("x", "only the x blocks of every W nonzero"),
    ("prev", "only the y_prev blocks nonzero"),
    ("bias", "only the biases nonzero"),
]


# ---- rewrites of the reference -----------------------------------------------------------------


def solution_region(source, function):
    """(lines, begin, end): the module's lines and the indices of the BEGIN/END SOLUTION markers of
    ``function``."""
    lines = source.splitlines(keepends=True)
    mine = [r for r in stubs.regions(source) if r.qualname == function]
    if len(mine) != 1:
        raise ValueError(f"{function}: {len(mine)} solution regions inside it, not 1")
    return lines, mine[0].start, mine[0].end


def mutate(source, function, change):
    """``source`` with ``function``'s solution region replaced (a new body) or edited
    (a list of (old, new[, count]): each ``old`` must occur ``count`` times, default 1)."""
    lines, begin, end = solution_region(source, function)
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    if isinstance(change, str):
        body = textwrap.indent(textwrap.dedent(change), indent)
    else:
        body = "".join(lines[begin + 1 : end])
        for edit in change:
            old, new = edit[0], edit[1]
            count = edit[2] if len(edit) > 2 else 1
            if body.count(old) != count:
                raise ValueError(f"{function}: {old!r} found {body.count(old)} times, not {count}")
            body = body.replace(old, new)  # a multi-line ``new`` carries its own indentation
    return "".join(lines[: begin + 1]) + body + "".join(lines[end:])


def realise(check_id, change):
    """The function ``check_id`` of the reference rnnkit with ``change`` applied: the rewritten
    module is compiled as a module of the package ``rnnkit`` (the reference: its relative imports
    give the reference's other modules), and its function returned. Trusted source only."""
    module, function = check_id.split(".")
    path = paths.RNNKIT / f"{module}.py"
    namespace = {"__name__": f"rnnkit.{module}", "__package__": "rnnkit", "__file__": str(path)}
    exec(compile(mutate(path.read_text(), function, change), str(path), "exec"), namespace)  # noqa: S102
    return namespace[function]

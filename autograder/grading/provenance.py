"""Renamed copies of the shipped reference tools inside graded functions (trusted side).

Learners receive ``rnnkit/gradcheck.py`` (numerical gradients accurate enough to pass as
a backward pass) and ``rnnkit/train.py`` complete. ``rnnkit/fast.py`` (a fused fast path
whose backward passes are the lesson 6 exercises in another form) ships with the answer
key only, but an answer key passed around is one copy away, so it stays a tool to look
for. The executor refuses *calls* into them from graded functions; this module finds *copies*:
a graded function whose own code, plus the module-level functions, classes and
assignments of the learner's package that it refers to (transitively, through imports
inside the package), contains code of a shipped tool with identifiers renamed,
comments, whitespace and docstrings changed, and statements lightly reordered.

How (MOSS-like winnowing, Schleimer, Wilkerson and Aiken 2003):
- each piece of code is parsed with ``ast`` (never imported: learner code is text here),
  docstrings and bare string statements are dropped, and ``ast.unparse`` gives a canonical
  layout (no comments, one spelling of parentheses and spaces);
- the text is tokenized; every identifier becomes ``I`` and every literal ``L``; keywords,
  operators and the block structure stay;
- every K consecutive tokens (a K-gram) are hashed, and in every window of W consecutive
  hashes the smallest is kept: the fingerprints. Any common run of K + W - 1 tokens
  shares a fingerprint, wherever it sits and in whatever order the runs come;
- a graded function is a copy when its code holds at least ``MIN_SHARED`` fingerprints
  of one shipped file (counted against the file, so padding the copy with other code
  does not hide it) that no honest solution produces (see ``measure``).

Reading the submission: ``rnnkit/`` and its sub-folders are opened with O_NOFOLLOW
relative to their parent's descriptor; only regular ``.py`` files up to ``MAX_FILE_BYTES``
are read. A graded function that refers to package code with no readable source (a
sourceless ``.pyc`` or extension module, a file that is too large, a link, a file that
does not parse), or that looks names up dynamically while such code exists, cannot be
checked and is refused as well.

``copied_functions(course_root, check_ids)`` -> {check_id: message} for the refused ones.
``python -m autograder.grading.provenance`` prints the similarity of every reference solution
and every right alternative of the checks' specs (autograder/specs/; the margins).
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import os
import stat
import tokenize
import zlib
from pathlib import Path

from autograder import paths

TOOL_FILES = ("fast", "gradcheck", "train")  # module names inside rnnkit
TOOL_DESCRIPTIONS = {
    "fast": "rnnkit/fast.py (the answer key's fused fast path)",
    "gradcheck": "rnnkit/gradcheck.py (the numerical gradient checker)",
    "train": "rnnkit/train.py (the training kit)",
}

K = 12  # tokens per k-gram
W = 8  # winnowing window: any common run of K + W - 1 = 19 tokens is found
MIN_SHARED = 16  # fingerprints of one shipped file that make a copy (see ``measure``)

MAX_FILE_BYTES = 1_000_000
MAX_FILES = 300
MAX_DEPTH = 4
SOURCELESS_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd")
# Calls that look names up at run time, out of reach of the name resolution below.
# Code that builds or loads code at run time: a graded function that reaches any of these could
# run a copy of a shipped tool hidden in a string (tokens of a string literal are one token).
CODE_BUILDING_NAMES = {"exec", "eval", "compile", "__import__", "builtins", "__builtins__", "marshal",
                       "FunctionType", "CodeType", "__code__", "importlib", "import_module", "ctypes",
                       "spec_from_file_location", "runpy", "pickle", "zlib", "base64", "codecs"}
DYNAMIC_NAMES = {"getattr", "globals", "vars", "locals", "eval", "exec", "compile", "__import__",
                 "importlib", "import_module", "modules", "__dict__", "__getattribute__"}


# ----------------------------------------------------------------------------- reading


class Module:
    """One module of a package: its parse tree, or why there is none."""

    def __init__(self, name, tree=None, problem=""):
        self.name, self.tree, self.problem = name, tree, problem
        self.defs, self.bindings, self.stars = {}, {}, []
        if tree is not None:
            for node in tree.body:
                _bind(self, node)

    @property
    def package(self):
        """The package this module sits in ("" for the top level)."""
        if self.name == "__init__":
            return ""
        if self.name.endswith(".__init__"):
            return self.name[: -len(".__init__")]
        return self.name.rpartition(".")[0]


def _bind(module, node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        module.defs[node.name] = node
    elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    module.defs[name.id] = node
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for name, binding in _import_bindings(module, node):
            if name == "*":
                module.stars.append(binding[1])
            else:
                module.bindings[name] = binding
    elif isinstance(node, (ast.If, ast.Try, ast.With)):  # definitions under `if`/`try` at top level
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                _bind(module, child)
        for handler in getattr(node, "handlers", []):
            for child in handler.body:
                _bind(module, child)


def _import_bindings(module, node):
    """(local name, ("module", target module) or ("name", (target module, name))) of an import
    that reaches into the package; imports from elsewhere (numpy, the standard library) give none."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] != "rnnkit":
                continue
            if alias.asname:
                yield alias.asname, ("module", ".".join(parts[1:]) or "__init__")
            else:
                yield "rnnkit", ("module", "__init__")
        return
    if node.level:
        base = module.package.split(".") if module.package else []
        if node.level - 1 > len(base):
            return
        base = base[: len(base) - (node.level - 1)]
        target = base + (node.module.split(".") if node.module else [])
    elif node.module and node.module.split(".")[0] == "rnnkit":
        target = node.module.split(".")[1:]
    else:
        return
    target_name = ".".join(target) or "__init__"
    for alias in node.names:
        if alias.name == "*":
            yield "*", ("module", target_name)
            continue
        sub = ".".join([*target, alias.name])
        yield alias.asname or alias.name, ("name_or_module", (target_name, alias.name, sub))


def _open_dir(name, dir_fd):
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)


def _read_regular(name, dir_fd, limit):
    """The bytes of a regular file (never a link, FIFO or device), or None when larger than limit."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        if info.st_size > limit:
            return None
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b"".join(chunks)
        return None if len(data) > limit else data
    finally:
        os.close(fd)


def read_package(course_root):
    """{module name: Module} of ``course_root/rnnkit`` ("lstm", "sub.helpers", "__init__").

    Modules with no readable source get a Module with ``problem`` set (sourceless
    ``.pyc``/``.so`` files, links, oversized or unparsable files). Never raises for
    anything found in the folder; an unreadable ``rnnkit/`` gives {}.
    """
    modules = {}
    try:
        root_fd = os.open(str(course_root), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return modules
    try:
        try:
            pkg_fd = _open_dir("rnnkit", root_fd)
        except OSError:
            return modules
        _read_dir(pkg_fd, [], modules, [0])
    finally:
        os.close(root_fd)
    return modules


def _read_dir(dir_fd, prefix, modules, count):
    try:
        entries = sorted(os.listdir(dir_fd))
        for name in entries:
            if count[0] >= MAX_FILES:
                return
            if name in ("__pycache__",) or name.startswith("."):
                continue
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue
            stem, dot, suffix = name.partition(".")
            dotted = ".".join([*prefix, stem])
            if stat.S_ISDIR(info.st_mode):
                if len(prefix) < MAX_DEPTH and name.isidentifier():
                    try:
                        sub_fd = _open_dir(name, dir_fd)
                    except OSError:
                        continue
                    _read_dir(sub_fd, [*prefix, name], modules, count)
                    init = modules.get(f"{dotted}.__init__")
                    if init is not None:  # a package folder is imported before a module of its name
                        modules[dotted] = init
                continue
            if not stem.isidentifier():
                continue
            count[0] += 1
            if name.endswith(".py") and dot and suffix == "py":
                shadowed = dotted in modules and modules[dotted].problem.startswith("is an extension")
                if shadowed or f"{dotted}.__init__" in modules:
                    continue  # packages, then extension modules, are imported before a source of that name
                if not stat.S_ISREG(info.st_mode):
                    modules[dotted] = Module(dotted, problem="is a link or a special file, not a .py file")
                    continue
                modules[dotted] = _parse_file(dotted, name, dir_fd)
            elif name.endswith((".so", ".pyd")) and f"{dotted}.__init__" not in modules:
                modules[dotted] = Module(dotted, problem=f"is an extension module ({name}), not source")
            elif name.endswith(SOURCELESS_SUFFIXES) and dotted not in modules:
                modules[dotted] = Module(dotted, problem=f"has no Python source ({name})")
    except OSError:
        return
    finally:
        os.close(dir_fd)


def _parse_file(dotted, name, dir_fd):
    try:
        data = _read_regular(name, dir_fd, MAX_FILE_BYTES)
    except OSError:
        return Module(dotted, problem="cannot be read as a plain .py file")
    if data is None:
        return Module(dotted, problem=f"is larger than {MAX_FILE_BYTES // 1000} kB")
    try:
        tree = ast.parse(data, filename=name)
        _strip_docstrings(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Module(dotted)  # cannot be imported either: its functions fail on their own
    return Module(dotted, tree)


def _strip_docstrings(tree):
    """Remove string statements (docstrings and strings used as comments) everywhere."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                             and isinstance(s.value.value, str))]
            node.body = kept or [ast.Pass()]


# ----------------------------------------------------------------------------- fingerprints


def normalized_tokens(node):
    """The token stream of a node: identifiers -> I, literals -> L, layout canonical."""
    text = ast.unparse(node)
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = tok.type
        if kind == tokenize.NAME:
            out.append(tok.string if keyword.iskeyword(tok.string) else "I")
        elif kind in (tokenize.NUMBER, tokenize.STRING):
            out.append("L")
        elif kind == tokenize.OP:
            out.append(tok.string)
        elif kind == tokenize.NEWLINE:
            out.append(";")
        elif kind == tokenize.INDENT:
            out.append("{")
        elif kind == tokenize.DEDENT:
            out.append("}")
        elif kind not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
            out.append("L")  # f-string parts and anything else literal-like
    return out


def fingerprints(tokens, k=None, w=None):
    """Winnowed fingerprints (a set of ints) of a token list."""
    k, w = k or K, w or W
    if len(tokens) < k:
        return set()
    hashes = [zlib.crc32(" ".join(tokens[i : i + k]).encode()) for i in range(len(tokens) - k + 1)]
    if len(hashes) <= w:
        return {min(hashes)}
    chosen = set()
    for i in range(len(hashes) - w + 1):
        window = hashes[i : i + w]
        chosen.add(min(window))
    return chosen


def node_fingerprints(nodes, k=None, w=None):
    found = set()
    for node in nodes:
        try:
            found |= fingerprints(normalized_tokens(node), k, w)
        except (tokenize.TokenError, IndentationError, SyntaxError, RecursionError, ValueError):
            continue
    return found


@functools.lru_cache(maxsize=8)
def shipped_fingerprints(k=None, w=None):
    """{tool module: fingerprints of its code} for the shipped tools as learners receive them."""
    def code(path):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        _strip_docstrings(tree)
        return [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]

    # Base code (MOSS's "base file"): what the tools share with the rest of the package, the
    # reference solutions included, is what an honest solution writes too; it never counts.
    base = set()
    for path in sorted(paths.RNNKIT.glob("*.py")):
        if path.stem not in TOOL_FILES:
            base |= node_fingerprints(code(path), k, w)
    return {tool: frozenset(node_fingerprints(code(paths.RNNKIT / f"{tool}.py"), k, w) - base)
            for tool in TOOL_FILES}


# ----------------------------------------------------------------------------- closures


def _refs(node):
    """Names and attribute chains a node reads: lists of identifiers like ["fast", "backward"]."""
    chains = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            chain, cur = [sub.attr], sub.value
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                chains.append([cur.id, *reversed(chain)])
        elif isinstance(sub, ast.Name):
            chains.append([sub.id])
    return chains


def _is_dynamic(node):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in DYNAMIC_NAMES:
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in DYNAMIC_NAMES:
            return True
        if isinstance(sub, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in sub.names] + [getattr(sub, "module", None) or ""]
            if any(n.split(".")[0] == "importlib" for n in names):
                return True
    return False


class Closure:
    """The code of one graded function and everything of the package it refers to."""

    def __init__(self, modules):
        self.modules = modules
        self.nodes = []  # (module name, node)
        self.seen = set()
        self.missing = []  # (module name, problem) of referenced code with no readable source
        self.dynamic = False
        self.enter_tools = True  # False: references into the shipped tools are not followed
        self.toplevel_done = set()  # modules whose import-time statements were added

    def add(self, module_name, node):
        key = (module_name, id(node))
        if key in self.seen:
            return
        self.seen.add(key)
        self.nodes.append((module_name, node))
        self._add_import_time_code(module_name)
        if _is_dynamic(node):
            self.dynamic = True
        local = Module(module_name)  # imports inside the function body
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                module = self.modules.get(module_name) or Module(module_name)
                local.name = module.name
                for name, binding in _import_bindings(module, sub):
                    if name != "*":
                        local.bindings[name] = binding
        for chain in _refs(node):
            self._follow(module_name, chain, local)

    def _add_import_time_code(self, module_name):
        """The statements a module runs when it is imported (not its definitions): they can rebind
        or fill any name a graded function uses (``_T.update(backward=copy)``, ``f = copy``)."""
        if module_name in self.toplevel_done:
            return
        self.toplevel_done.add(module_name)
        module = self.modules.get(module_name)
        if module is None or module.tree is None:
            return
        for stmt in module.tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                 ast.ImportFrom)):
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # a docstring
            self.add(module_name, stmt)

    def _follow(self, module_name, chain, local=None, depth=0):
        if depth > 20:
            return
        module = self.modules.get(module_name)
        if module is None or (not self.enter_tools and module_name.split(".")[0] in TOOL_FILES):
            return
        if module.problem:
            self.missing.append((module_name, module.problem))
            return
        head, rest = chain[0], chain[1:]
        binding = (local.bindings.get(head) if local is not None else None) or module.bindings.get(head)
        if binding is None and head in module.defs:
            self.add(module_name, module.defs[head])
            return
        if binding is None:
            for star in module.stars:
                if star in self.modules:
                    self._follow(star, chain, None, depth + 1)
            return
        kind, target = binding
        if kind == "module":
            self._into_module(target, rest, depth)
        else:
            target_module, name, sub = target
            if sub in self.modules:
                self._into_module(sub, rest, depth)
            elif target_module in self.modules:
                self._follow(target_module, [name, *rest], None, depth + 1)

    def _into_module(self, target, rest, depth):
        module = self.modules.get(target)
        if module is None or (not self.enter_tools and target.split(".")[0] in TOOL_FILES):
            return
        if module.problem:
            self.missing.append((target, module.problem))
            return
        if rest:
            sub = f"{target}.{rest[0]}" if target != "__init__" else rest[0]
            if sub in self.modules and rest[0] not in module.defs:
                self._into_module(sub, rest[1:], depth + 1)
            else:
                self._follow(target, rest, None, depth + 1)
        else:
            # the module object itself is used (e.g. passed around): all of its code counts
            for name in list(module.defs):
                self._follow(target, [name], None, depth + 1)


def closure(modules, check_id):
    """The Closure of a graded function ("lstm.lstm_step_backward"), or None when its module
    or the function is not in the package."""
    module_name, function = check_id.split(".")
    module = modules.get(module_name)
    found = Closure(modules)
    if module is not None and module.problem:
        found.missing.append((module_name, module.problem))
        return found
    if module is None or module.tree is None or function not in module.defs:
        return None
    found.add(module_name, module.defs[function])
    if found.dynamic:
        # Names looked up at run time: everything the package defines outside the shipped tools
        # counts (the tools' own functions are refused at call time by the executor).
        found.enter_tools = False
        for name, other in modules.items():
            if other.problem:
                found.missing.append((name, other.problem))
            elif name.split(".")[0] not in TOOL_FILES:
                for node in list(other.defs.values()):
                    found.add(name, node)
    return found


# ----------------------------------------------------------------------------- verdicts


def similarity(nodes, k=None, w=None):
    """{tool module: number of its fingerprints found in the nodes}."""
    mine = node_fingerprints(nodes, k, w)
    return {tool: len(mine & fps) for tool, fps in shipped_fingerprints(k, w).items()}


def _message(function, tool):
    return (
        f"Your `{function}` contains a copy of code from {TOOL_DESCRIPTIONS[tool]}, with names changed. "
        "The course's reference tools are there for training and checking, not to be handed in: write "
        f"`{function}` yourself, with the equations of the lesson. This function scores 0."
    )


def _code_building(nodes):
    """The names of CODE_BUILDING_NAMES that the nodes use (as names, attributes or imports)."""
    found = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in CODE_BUILDING_NAMES:
                found.add(sub.id)
            elif isinstance(sub, ast.Attribute) and sub.attr in CODE_BUILDING_NAMES:
                found.add(sub.attr)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                for name in [a.name for a in sub.names] + [getattr(sub, "module", None) or ""]:
                    if name.split(".")[0] in CODE_BUILDING_NAMES:
                        found.add(name.split(".")[0])
    return found


def check_function(modules, check_id):
    """None when the function is fine (or absent); else the message that refuses it."""
    found = closure(modules, check_id)
    function = check_id.split(".")[1]
    if found is None:
        return None
    if found.missing:
        module_name, problem = found.missing[0]
        return (
            f"Your `{function}` uses rnnkit/{module_name.replace('.', '/')}, which {problem}: graded code "
            "must be plain .py files in rnnkit/ that can be read. This function scores 0."
        )
    builds = sorted(_code_building([node for _, node in found.nodes]))
    if builds:
        return (
            f"Your `{function}` (or code it uses in rnnkit/) builds or loads code at run time "
            f"({', '.join(builds[:3])}): graded code must be plain Python written in rnnkit/*.py. "
            "This function scores 0."
        )
    shared = similarity([node for _, node in found.nodes])
    tool, count = max(shared.items(), key=lambda item: item[1])
    if count >= MIN_SHARED:
        return _message(function, tool)
    return None


def copied_functions(course_root, check_ids):
    """{check_id: message} for the graded functions of ``check_ids`` that copy a shipped tool
    (or cannot be checked). Reads ``course_root/rnnkit`` as text; never imports it; never raises
    for anything in the submission."""
    try:
        modules = read_package(course_root)
    except (OSError, RecursionError, MemoryError, ValueError):
        return {}
    found = {}
    for check_id in check_ids:
        try:
            message = check_function(modules, check_id)
        except (RecursionError, MemoryError, ValueError, SyntaxError, tokenize.TokenError):
            message = None
        if message:
            found[check_id] = message
    return found


def module_from_source(name, text):
    """A Module parsed from source text (for measurements and tests)."""
    tree = ast.parse(text)
    _strip_docstrings(tree)
    return Module(name, tree)


def scores(course_root, check_ids, k=None, w=None, modules=None):
    """{check_id: {tool: shared fingerprints}} (for measurements); ``modules`` (from
    ``read_package``) instead of reading ``course_root`` again."""
    modules = modules if modules is not None else read_package(course_root)
    out = {}
    for check_id in check_ids:
        found = closure(modules, check_id)
        if found is not None:
            out[check_id] = similarity([node for _, node in found.nodes], k, w)
    return out


def measure(repo=None):
    """Margins (``python -m autograder.grading.provenance``): the highest score of a legitimate function
    (every reference solution, and every right alternative and mutant of the checks' specs) and
    the lowest of the disguised copies of tests/test_attacks_points.py, at several (K, W)."""
    import sys

    from autograder.checks.registry import CHECKS
    from autograder.specs import SPECS
    from autograder.specs.spec import mutate

    repo = Path(repo or paths.RNNKIT.parent)
    sys.path.insert(0, str(repo / "tests"))
    from test_attacks_points import FAST_COPIES, GRADCHECK_COPY, NUMERIC

    key = read_package(repo)
    for k, w in [(8, 6), (10, 6), (K, W), (15, 8)]:
        legit = [(max(v.values()), f"reference {c}")
                 for c, v in scores(None, [s.check_id for s in CHECKS], k, w, key).items()]
        for kind, field in (("variant", "right"), ("mutant", "mutants")):
            for spec in SPECS.values():
                module, function = spec.check_id.split(".")
                for item in getattr(spec, field):
                    text = mutate((paths.RNNKIT / f"{module}.py").read_text(), function, item[1])
                    modules = {**key, module: module_from_source(module, text)}
                    got = scores(None, [spec.check_id], k, w, modules)[spec.check_id]
                    legit.append((max(got.values()), f"{kind} {spec.check_id}: {item[0]}"))
        for check_id, (module, function, helpers, body) in NUMERIC.items():
            text = mutate((paths.RNNKIT / f"{module}.py").read_text(), function, body.lstrip("\n")) + helpers
            got = scores(None, [check_id], k, w, {**key, module: module_from_source(module, text)})[check_id]
            legit.append((max(got.values()), f"central differences {check_id}"))
        copies = []
        for check_id, (module, function, helpers, body) in [*FAST_COPIES.items(),
                                                              ("rnn.rnn_step_backward", GRADCHECK_COPY)]:
            text = mutate((paths.RNNKIT / f"{module}.py").read_text(), function, body.lstrip("\n")) + helpers
            got = scores(None, [check_id], k, w, {**key, module: module_from_source(module, text)})[check_id]
            copies.append((max(got.values()), f"copy in {check_id} ({max(got, key=got.get)})"))
        hi, lo = max(legit), min(copies)
        print(f"K={k:2d} W={w}: legitimate max {hi[0]:3d} ({hi[1]}); disguised copies min {lo[0]:3d} "
              f"({lo[1]}); all copies {sorted(c for c, _ in copies)}"
              + (f"; threshold {MIN_SHARED}" if (k, w) == (K, W) else ""))


if __name__ == "__main__":
    measure()

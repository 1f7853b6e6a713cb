"""Plain-data files for cases, results and fixtures (no pickle anywhere).

A nested Python value (arrays, tuples, lists, named tuples such as
``LSTMParams``, None, bools, the probe cell) is written as a JSON tree whose
array leaves point into a few flat buffers, one per dtype, stored in an
``.npz`` loaded with ``allow_pickle=False``. Packing the arrays keeps the
published fixtures to a few kB (an ``.npz`` entry costs ~200 bytes of header).

Learner outputs are normalised first (``executor.normalize``): every array-like leaf
becomes a ``Leaf(kind, value)`` that remembers what the learner returned
("ndarray", "list", "float", "ndarray subclass matrix", ...), so the judge can
say "returns a list, not a numpy.ndarray" without ever running learner code.

``map_arrays`` is the one walk through such nested values (casting, copying,
collecting dtypes), for the checks and the trusted side alike.
"""

import io
import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

FORMAT_VERSION = 1


class Leaf(NamedTuple):
    """A returned value that should have been an array: what it was, and its values."""

    kind: str
    value: np.ndarray


class Seq(NamedTuple):
    """A returned tuple or list (``name``/``fields`` set for a named tuple)."""

    kind: str  # "tuple" or "list"
    items: list
    name: str = ""
    fields: tuple = ()


class Other(NamedTuple):
    """A returned value of a kind no check expects (a dict, a string, an object...)."""

    kind: str


@dataclass
class Case:
    """One call of one learner function on given inputs.

    - ``args``/``kwargs``: the call's arguments (arrays, named tuples of arrays, the
      probe cell as ``ProbeCell()``, plain scalars).
    - ``group``: "values", "terms", "edges" or "float32" (see compare.GROUPS).
    - ``replay``: for composed functions, the results of the other learner functions
      it may call, on the arguments it should call them with: a list of
      ``(function "module.name", args tuple, result)``. The executor answers such
      calls from this table, so a composition is graded on its own.
    - ``diagnose``: for composed functions, ``(function "module.name", args tuple, index)``:
      output ``index`` of this function (None: the whole output) is what that learner function
      returns on ``args``. The executor calls the learner's own function on them (no replay)
      and returns what it gave, so that a wrong output can be blamed on the function that
      made it (``compare``); ``args`` hold only values the case and its replay table hold.
    """

    case_id: str
    check_id: str
    label: str
    group: str
    visible: bool
    args: tuple
    kwargs: dict = field(default_factory=dict)
    replay: list = field(default_factory=list)
    diagnose: list = field(default_factory=list)


def map_arrays(value, function):
    """``value`` with every numpy array inside it replaced by ``function(array)``.

    Walks tuples, named tuples, lists and dicts; any other value (None, a scalar, the probe
    cell) is kept as it is. A named tuple whose items all come back unchanged is kept itself
    (its class's constructor is not called again); tuples, lists and dicts are rebuilt.
    Examples: ``map_arrays(args, lambda a: a.astype(np.float32))`` casts every input,
    ``map_arrays(result, np.ndarray.copy)`` copies one.
    """
    if isinstance(value, np.ndarray):
        return function(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        items = [map_arrays(v, function) for v in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(*items)
    if isinstance(value, tuple):
        return tuple(map_arrays(v, function) for v in value)
    if isinstance(value, list):
        return [map_arrays(v, function) for v in value]
    if isinstance(value, dict):
        return {k: map_arrays(v, function) for k, v in value.items()}
    return value


class _Store:
    """Collects arrays into one flat buffer per dtype."""

    def __init__(self):
        self.chunks = {}
        self.sizes = {}

    def put(self, array):
        shape = list(np.shape(array))  # before np.ascontiguousarray, which turns a 0-d array into (1,)
        array = np.ascontiguousarray(array)
        key = array.dtype.str
        if array.dtype.hasobject or array.dtype.kind not in "biufcSU":
            raise TypeError(f"cannot store an array of dtype {array.dtype}")
        offset = self.sizes.get(key, 0)
        self.chunks.setdefault(key, []).append(array.reshape(-1))
        self.sizes[key] = offset + array.size
        return {"dt": key, "off": offset, "shape": shape}

    def buffers(self):
        return {"buf" + k: np.concatenate(v) if v else np.zeros(0) for k, v in self.chunks.items()}


def _get(ref, buffers):
    buf = buffers["buf" + ref["dt"]]
    shape = tuple(int(n) for n in ref["shape"])
    size = math.prod(shape)  # Python ints: no silent overflow
    off = int(ref["off"])
    if any(n < 0 for n in shape) or off < 0 or off + size > buf.size:
        raise ValueError("array reference out of range")
    return buf[off : off + size].reshape(shape).copy()


def encode(value, store):
    """JSON-able tree for ``value``; arrays go into ``store``."""
    from .probe import ProbeCell

    if isinstance(value, Leaf):
        return {"leaf": value.kind, "a": store.put(value.value)}
    if isinstance(value, Seq):
        return {
            "seq": value.kind,
            "name": value.name,
            "fields": list(value.fields),
            "items": [encode(v, store) for v in value.items],
        }
    if isinstance(value, Other):
        return {"other": value.kind}
    if isinstance(value, np.ndarray):
        return {"a": store.put(value)}
    if value is None:
        return {"none": 1}
    if isinstance(value, ProbeCell):
        return {"cell": "probe"}
    if isinstance(value, (bool, str)):
        return {"v": value}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        name = type(value).__module__.rsplit(".", 1)[-1] + "." + type(value).__name__
        return {"nt": name, "fields": list(value._fields), "items": [encode(v, store) for v in value]}
    if isinstance(value, tuple):
        return {"tuple": [encode(v, store) for v in value]}
    if isinstance(value, list):
        return {"list": [encode(v, store) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, store) for k, v in value.items()}}
    raise TypeError(f"cannot encode a {type(value).__name__}")


_GENERIC_NT = {}
_KIND_ORDER = (
    "leaf",
    "seq",
    "other",
    "a",
    "none",
    "cell",
    "v",
    "nt",
    "tuple",
    "list",
    "dict",
)  # as in decode


def generic_namedtuple(name, fields):
    """A stand-in named tuple class (used where the real class is not at hand)."""
    key = (name, tuple(fields))
    if key not in _GENERIC_NT:
        from collections import namedtuple

        _GENERIC_NT[key] = namedtuple(name.rsplit(".", 1)[-1], fields)
    return _GENERIC_NT[key]


RESULT_NODES = {"leaf", "seq", "other", "none"}
MAX_DIAGNOSTICS = 4  # diagnostics read back per case (see ``Case.diagnose``)


class DecodeBudget:
    """How many array elements the decoding of one untrusted file may still copy out.

    Every array reference in a result is copied out of the file's buffers, so a small file whose
    tree names one large buffer many times would unpack to many times its size: the budget is
    counted per reference, and running out refuses the file."""

    def __init__(self, elements):
        self.left = elements

    def take(self, size):
        self.left -= size
        if self.left < 0:
            raise ResultTooLarge("a result that unpacks to too many numbers")


class ResultTooLarge(ValueError):
    pass


MAX_RESULT_ITEMS = 10_000  # items of one list or tuple in a result (the executor writes no more)
MAX_RESULT_DEPTH = 8


def decode(node, buffers, classes=None, only=None, budget=None):
    """Inverse of ``encode``. ``classes`` maps "module.Name" to the named tuple class
    to rebuild (e.g. the learner's ``lstm.LSTMParams``); others get a generic one.
    ``only``: the node kinds accepted (``RESULT_NODES`` for untrusted results), which are
    then also held to ``MAX_RESULT_ITEMS`` and ``MAX_RESULT_DEPTH``; ``budget``: a
    ``DecodeBudget`` every array copied out is counted against."""
    from .probe import ProbeCell

    def get(ref):
        if budget is not None:  # counted before the copy is made
            budget.take(math.prod(max(0, int(n)) for n in ref["shape"]))
        return _get(ref, buffers)

    def walk(n, depth=0):
        if not isinstance(n, dict):
            raise ValueError("malformed tree")
        if only is not None and next((k for k in _KIND_ORDER if k in n), None) not in only:
            raise ValueError("unexpected node in a result")
        if "leaf" in n:
            return Leaf(str(n["leaf"]), get(n["a"]))
        if "seq" in n:
            items = n["items"]
            if only is not None and (depth >= MAX_RESULT_DEPTH or len(items) > MAX_RESULT_ITEMS):
                raise ResultTooLarge("a result nested too deep or too long")
            return Seq(
                str(n["seq"]),
                [walk(v, depth + 1) for v in items],
                str(n.get("name", "")),
                tuple(str(f) for f in n.get("fields", ())),
            )
        if "other" in n:
            return Other(str(n["other"]))
        if "a" in n:
            return get(n["a"])
        if "none" in n:
            return None
        if "cell" in n:
            return ProbeCell()
        if "v" in n:
            return n["v"]
        if "nt" in n:
            cls = (classes or {}).get(n["nt"]) or generic_namedtuple(n["nt"], n["fields"])
            return cls(*[walk(v) for v in n["items"]])
        if "tuple" in n:
            return tuple(walk(v) for v in n["tuple"])
        if "list" in n:
            return [walk(v) for v in n["list"]]
        if "dict" in n:
            return {k: walk(v) for k, v in n["dict"].items()}
        raise ValueError("malformed tree")

    return walk(node)


def save(path_or_file, meta, store, compress=True):
    """Write ``meta`` (JSON-able) and the store's buffers as one deterministic .npz (``compress``:
    deflated, as the published fixtures are; case files for the sandbox are stored as they are,
    which is several times faster to write)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    arrays = store.buffers()
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True, separators=(",", ":")))
    # np.savez stamps the current time into the zip; write entries by hand for
    # byte-identical files (the fixture manifest compares checksums).
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=method) as zf:
        for name in sorted(arrays):
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.asanyarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, entry.getvalue())
    data = raw.getvalue()
    if hasattr(path_or_file, "write"):
        path_or_file.write(data)
    else:
        with open(path_or_file, "wb") as f:
            f.write(data)
    return data


def load(path_or_file):
    """Read what ``save`` wrote: (meta, buffers). Never unpickles."""
    with np.load(path_or_file, allow_pickle=False) as z:
        buffers = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"][()]))
    return meta, buffers


# ---- case files (parent -> sandbox) ------------------------------------------------------


def write_cases(cases, directory):
    """Write ``cases`` to ``directory/cases.npz`` (one file, meta + buffers)."""
    import pathlib

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    store = _Store()
    meta = {"version": FORMAT_VERSION, "cases": [case_to_json(c, store) for c in cases]}
    save(directory / "cases.npz", meta, store, compress=False)


def case_to_json(case, store):
    node = {
        "case_id": case.case_id,
        "check_id": case.check_id,
        "label": case.label,
        "group": case.group,
        "visible": case.visible,
        "args": encode(tuple(case.args), store),
        "kwargs": encode(dict(case.kwargs), store),
        "replay": [
            {"function": f, "args": encode(tuple(a), store), "result": encode(r, store)}
            for f, a, r in case.replay
        ],
    }
    if case.diagnose:
        node["diagnose"] = [{"function": f, "args": encode(tuple(a), store), "index": i}
                            for f, a, i in case.diagnose]
    return node


def case_from_json(n, buffers, classes=None):
    return Case(
        case_id=str(n["case_id"]),
        check_id=str(n["check_id"]),
        label=str(n["label"]),
        group=str(n["group"]),
        visible=bool(n["visible"]),
        args=decode(n["args"], buffers, classes),
        kwargs=decode(n["kwargs"], buffers, classes),
        replay=[
            (str(r["function"]), decode(r["args"], buffers, classes), decode(r["result"], buffers, classes))
            for r in n["replay"]
        ],
        diagnose=[
            (str(d["function"]), decode(d["args"], buffers, classes),
             None if d["index"] is None else int(d["index"]))
            for d in n.get("diagnose", [])
        ],
    )


def read_case_meta(directory):
    """(list of case JSON nodes, buffers) from ``write_cases``'s file; decode later with the
    learner's classes at hand."""
    import pathlib

    meta, buffers = load(pathlib.Path(directory) / "cases.npz")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError("unknown case file version")
    return meta["cases"], buffers


# ---- result files (sandbox -> parent) ----------------------------------------------------


def write_results(check_id, results, directory):
    """``results``: {case_id: result dict from executor.run_case}."""
    import pathlib

    store = _Store()
    meta = {"version": FORMAT_VERSION, "check_id": check_id, "cases": {}}
    for case_id, r in results.items():
        meta["cases"][case_id] = {
            "error": r.get("error"),
            "output": encode(r["output"], store) if r.get("output") is not None else None,
            "modified": list(r.get("modified", [])),
            "aliased": list(r.get("aliased", [])),
            "warnings": list(r.get("warnings", [])),
        }
        if r.get("diagnostics"):
            meta["cases"][case_id]["diagnostics"] = [
                None if d is None else encode(d, store) for d in r["diagnostics"]
            ]
    path = pathlib.Path(directory) / (check_id + ".npz")
    tmp = path.with_suffix(".tmp")
    save(tmp, meta, store)
    tmp.replace(path)


class UntrustedFileError(Exception):
    """A file that untrusted code made (or should have made) cannot be used.

    ``problem`` is one of ``"missing"``, ``"not a regular file"`` (a link, FIFO, device,
    socket or folder in its place), ``"too large"``, ``"unreadable"``. The text never
    holds a path."""

    def __init__(self, problem):
        super().__init__(problem)
        self.problem = problem


_UNTRUSTED_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def read_untrusted(path, max_bytes, truncate=False):
    """The bytes of ``path``, a file in a folder that untrusted code could write.

    Never follows a link at the last component (``O_NOFOLLOW``), never blocks (a FIFO is
    opened with ``O_NONBLOCK`` and refused by the regular-file check before any read),
    never reads more than ``max_bytes + 1`` bytes. Raises ``UntrustedFileError``; with
    ``truncate`` a longer file gives its first ``max_bytes`` bytes instead."""
    try:
        fd = os.open(path, _UNTRUSTED_FLAGS)
    except FileNotFoundError:
        raise UntrustedFileError("missing") from None
    except OSError as exc:  # ELOOP: a symlink; ENXIO: a socket; EACCES: made unreadable
        import errno

        problem = "unreadable" if exc.errno in (errno.EACCES, errno.EPERM) else "not a regular file"
        raise UntrustedFileError(problem) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UntrustedFileError("not a regular file")
        if info.st_size > max_bytes and not truncate:
            raise UntrustedFileError("too large")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes and not truncate:
            raise UntrustedFileError("too large")
        return b"".join(chunks)[:max_bytes]
    except OSError:
        raise UntrustedFileError("unreadable") from None
    finally:
        os.close(fd)


def _check_npz(data, max_unpacked):
    """Refuse an archive whose entries would unpack (or allocate) more than ``max_unpacked``
    bytes in all: a few MB of zeros can deflate to many GB."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > 64 or sum(i.file_size for i in infos) > max_unpacked:
            raise ValueError("archive too large when unpacked")
        allocated = 0
        for info in infos:
            with zf.open(info) as entry:
                version = np.lib.format.read_magic(entry)
                if version == (1, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_1_0(entry)
                elif version == (2, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_2_0(entry)
                else:
                    raise ValueError("unknown array format")
                if dtype.hasobject:
                    raise ValueError("object array")
                allocated += math.prod(int(n) for n in shape) * dtype.itemsize
        if allocated > max_unpacked:
            raise ValueError("arrays too large")


def read_results_checked(check_id, directory, max_bytes=20_000_000, max_unpacked=64_000_000):
    """``(results, problem)`` for one check: ``results`` is {case_id: result dict} or None;
    ``problem`` is "" (read fine), "missing", "not a regular file", "too large" or
    "malformed" (unreadable, not an archive, wrong version or check, bad content).

    The file is untrusted: read with ``read_untrusted`` (no link followed, no FIFO opened
    for reading, size capped), unpacked within ``max_unpacked`` bytes, parsed as data only."""
    import pathlib

    path = pathlib.Path(directory) / (check_id + ".npz")
    try:
        data = read_untrusted(path, max_bytes)
    except UntrustedFileError as exc:
        return None, "malformed" if exc.problem == "unreadable" else exc.problem
    try:
        _check_npz(data, max_unpacked)
        meta, buffers = load(io.BytesIO(data))
        if meta.get("version") != FORMAT_VERSION or meta.get("check_id") != check_id:
            return None, "malformed"
        # Copies out of the file count against the same bound as the file's own arrays (float64).
        budget = DecodeBudget(max_unpacked // 8)
        out = {}
        for case_id, r in dict(meta["cases"]).items():
            output = r.get("output")
            out[str(case_id)] = {
                "error": None if r.get("error") is None else str(r["error"])[:2000],
                "output": None if output is None else _numeric(
                    decode(output, buffers, only=RESULT_NODES, budget=budget)),
                "modified": [str(m)[:100] for m in r.get("modified", [])][:20],
                "aliased": [str(m)[:100] for m in r.get("aliased", [])][:20],
                "warnings": [str(m)[:300] for m in r.get("warnings", [])][:5],
                "diagnostics": [
                    None if d is None else _numeric(decode(d, buffers, only=RESULT_NODES, budget=budget))
                    for d in list(r.get("diagnostics") or [])[:MAX_DIAGNOSTICS]],
            }
        return out, ""
    except ResultTooLarge:
        return None, "too large"
    except Exception:  # noqa: BLE001 - any malformed content (RecursionError, MemoryError too)
        return None, "malformed"


def _numeric(value, depth=0):
    """A decoded result whose arrays are all numbers (the executor writes nothing else; strings or
    bytes can only come from learner code that rewrote it, and would break the comparison)."""
    if depth > 8:
        raise ValueError("nested too deep")
    if isinstance(value, Leaf):
        if np.asarray(value.value).dtype.kind not in "biufc":
            raise ValueError("a result array that is not numeric")
    elif isinstance(value, Seq):
        for item in value.items:
            _numeric(item, depth + 1)
    return value


def read_results(check_id, directory, max_bytes=20_000_000):
    """{case_id: result dict} for one check, or None when missing or malformed
    (``read_results_checked`` says which)."""
    return read_results_checked(check_id, directory, max_bytes)[0]

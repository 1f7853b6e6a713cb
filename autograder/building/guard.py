"""The search that stands between the instructor's files and a learner.

Trust nothing that produced a folder: search what is in it. A folder leaks if
any file holds a region marker (solution, hidden tests, mark scheme) or any
distinctive line of what those regions hide: the reference bodies in rnnkit/
and the model answers, hidden tests and mark schemes of solutions/.
"""

from pathlib import Path

import nbformat

from autograder import paths, regions
from autograder.building import notebooks, stubs

# Files searched as text; anything else (.npz fixtures, images) is binary data.
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".yml", ".yaml", ".cfg", ".toml", ".json", ".html", ".csv",
                 ".sh", ""}


def package_secrets(package=paths.RNNKIT, is_secret=lambda module, region: True):
    """Distinctive lines of the reference bodies (inside solution regions) of a package folder.

    Inputs:
    - package: the package folder (rnnkit/)
    - is_secret: is_secret(module, region) -> bool; the bodies of other regions
      count as public (an assignment whose earlier lessons are filled in)

    Returns:
    - sorted list of stripped lines.
    """
    secret, public = [], []
    for path in sorted(Path(package).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        module = stubs.module_of(path.relative_to(Path(package).parent))
        lines = text.split("\n")
        for region in stubs.regions(text, str(path)):
            body = lines[region.start + 1:region.end]
            (secret if is_secret(module, region) else public).extend(body)
        public.extend(stubs.stub_text(text, filename=str(path)).split("\n"))
    return notebooks.distinctive(secret, public, public_within_lines=True)


def notebook_secrets(solutions=paths.SOLUTIONS):
    """Distinctive lines of the model answers, hidden tests and mark schemes of solutions/*.ipynb."""
    secret, public = [], []
    for path in sorted(Path(solutions).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        s, p = notebooks.secret_and_public_lines(nb)
        secret.extend(s)
        public.extend(p)
    # The reference package's own public text is public too.
    for path in sorted(paths.RNNKIT.rglob("*.py")):
        if "__pycache__" not in path.parts:
            public.extend(stubs.stub_text(path.read_text(encoding="utf-8")).split("\n"))
    return notebooks.distinctive(secret, public)


def _texts(path):
    """(where, text) pieces of one file to search: a notebook cell by cell, other files whole."""
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # not valid JSON: search the raw text
            yield str(path), path.read_text(encoding="utf-8", errors="replace")
            return
        for i, cell in enumerate(nb.cells):
            yield f"{path} cell {i} ({cell.get('id', '?')})", cell.source
            for output in cell.get("outputs", []):
                yield f"{path} cell {i} output", str(output)
        yield f"{path} metadata", str(nb.metadata)
    else:
        yield str(path), path.read_text(encoding="utf-8", errors="replace")


def _worth_searching_in_notebooks(line):
    """Reference lines a lesson's own teaching code could write innocently are skipped in notebooks.

    A lesson may build ``z = np.concatenate([x, y_prev], axis=-1)`` or call
    ``rnn_step(x, s_prev, W, b)`` in an experiment; it must not show a body's
    answer: a ``return`` expression or a long, specific line.
    """
    return line.startswith("return ") or len(line) >= 48


def find_leaks(paths, package_lines=None, notebook_lines=None):
    """Search files or folders for markers and secret lines.

    Inputs:
    - paths: a file or folder, or a list of them (folders are searched recursively)
    - package_lines: distinctive reference lines (default: package_secrets()); in
      notebooks only those a lesson could not write innocently are searched
      (see _worth_searching_in_notebooks)
    - notebook_lines: distinctive lines of model answers, hidden tests and mark
      schemes (default: notebook_secrets())

    Returns:
    - list of human-readable findings, empty when clean.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    package_lines = package_secrets() if package_lines is None else package_lines
    notebook_lines = notebook_secrets() if notebook_lines is None else notebook_lines
    in_files = sorted(set(package_lines) | set(notebook_lines))
    in_notebooks = sorted(set(filter(_worth_searching_in_notebooks, package_lines)) | set(notebook_lines))
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.is_file():
            files.append(p)
    findings = []
    for f in files:
        if f.suffix not in TEXT_SUFFIXES or "__pycache__" in f.parts:
            continue
        lines = in_notebooks if f.suffix == ".ipynb" else in_files
        for where, text in _texts(f):
            for marker in regions.MARKERS:
                if marker in text:
                    findings.append(f"{where}: marker {marker!r}")
            for line in lines:
                if line in text:
                    findings.append(f"{where}: hidden text {line!r}")
    return findings

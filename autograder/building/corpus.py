"""python -m autograder.building.corpus [--check]: the frozen text lesson 8 trains on.

Lesson 8's character-level language models read Python's own help topics, the module
``pydoc_data.topics`` (the pages that ``help("if")`` shows, generated from the Python
documentation). That module changes between Python releases (3.11.2, 3.11.7, 3.12 and 3.13
all differ, even in their number of distinct characters), so the course ships a snapshot of
the part the lesson uses, made once from CPython SOURCE_VERSION, and ``rnnkit.data.char_corpus``
reads the snapshot, never the running Python's module. Once committed, the snapshot is the
source of truth; its text's SHA-256 is ``rnnkit.data.CORPUS_SHA256``.

The folder ``rnnkit/corpus/`` (in every course folder and assignment) holds:
- ``pydoc_topics.txt.gz``: the text, UTF-8, gzip (no file name, time stamp 0);
- ``NOTICE``: where the text comes from, PSF's copyright notice, and the changes made;
- ``LICENSE-Python.txt``: CPython SOURCE_VERSION's LICENSE file as it ships (it holds the
  PSF License Agreement, which asks that the notice and the agreement be retained).

Without ``--check`` the three files are written; that needs CPython SOURCE_VERSION (another
version gives another text), and its SHA-256 is printed for ``rnnkit.data.CORPUS_SHA256``.
``--check`` writes nothing and exits 1 when a file is missing, the text's SHA-256 is not the
committed one, or the notice or licence is not what the generator writes. It runs on any
Python; on SOURCE_VERSION it also rebuilds the text from ``pydoc_data`` and compares.
"""

import argparse
import gzip
import hashlib
import re
import sys
import sysconfig
import textwrap
from pathlib import Path

from autograder import paths

SOURCE_VERSION = "3.11.7"  # the CPython whose pydoc_data.topics the snapshot is cut from
CHARS = 300_000  # the characters lesson 8 uses
FOLDER = paths.RNNKIT / "corpus"
SNAPSHOT = FOLDER / "pydoc_topics.txt.gz"
NOTICE = FOLDER / "NOTICE"
LICENSE = FOLDER / "LICENSE-Python.txt"
# PSF's notice of copyright, as the PSF License Agreement quotes it (clause 2).
COPYRIGHT = re.compile(r'"(Copyright \(c\) 2001,[^"]*Python Software Foundation;\s+All Rights Reserved)"')

NOTICE_TEXT = """\
pydoc_topics.txt.gz: the text the language models of lesson 8 read

The text is part of Python's help topics: the module pydoc_data.topics of CPython {version}
(the pages that help("if") and friends show), which is generated from the Python documentation.

{copyright}

It is distributed with CPython under the Python Software Foundation License Version 2, which
permits copying and redistribution provided PSF's copyright notice and the License Agreement
are retained. The agreement, with the rest of CPython {version}'s LICENSE file, is in
LICENSE-Python.txt next to this file.

Changes made to the original: the topics were taken in sorted order of their names, each
stripped of leading and trailing white space, and joined with one blank line between two
topics; the result was cut after its first {chars:,} characters, encoded as UTF-8 and
compressed with gzip. Nothing else was changed.
"""


def source_text():
    """The snapshot's text rebuilt from this Python's ``pydoc_data.topics`` (str of CHARS characters)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key].strip() for key in sorted(topics))[:CHARS]


def python_license():
    """This Python's LICENSE.txt, as text (FileNotFoundError when the installation has none)."""
    return (Path(sysconfig.get_path("stdlib")) / "LICENSE.txt").read_text(encoding="utf-8")


def notice_text(license_text):
    """The NOTICE file for a given LICENSE text (the copyright notice is quoted from it)."""
    match = COPYRIGHT.search(license_text)
    if match is None:
        raise ValueError("the licence text holds no PSF copyright notice")
    copyright_lines = textwrap.fill(" ".join(match.group(1).split()), width=95)
    return NOTICE_TEXT.format(version=SOURCE_VERSION, copyright=copyright_lines, chars=CHARS)


def sha256(text):
    """SHA-256 of a text's UTF-8 bytes, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_snapshot(path=SNAPSHOT):
    """The snapshot's text (str)."""
    return gzip.decompress(Path(path).read_bytes()).decode("utf-8")


def write(folder=FOLDER):
    """Write the snapshot, NOTICE and LICENSE-Python.txt from this Python; returns the text's SHA-256."""
    running = ".".join(map(str, sys.version_info[:3]))
    if running != SOURCE_VERSION or sys.implementation.name != "cpython":
        raise SystemExit(f"the snapshot is cut from CPython {SOURCE_VERSION}'s pydoc_data; this is "
                         f"{sys.implementation.name} {running}. Run this command with CPython "
                         f"{SOURCE_VERSION}, or keep the committed snapshot (`--check` verifies it "
                         "on any Python).")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text, license_text = source_text(), python_license()
    # mtime=0 and no file name in the header: the same text gives the same bytes.
    with open(folder / SNAPSHOT.name, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as f:
        f.write(text.encode("utf-8"))
    (folder / LICENSE.name).write_text(license_text, encoding="utf-8")
    (folder / NOTICE.name).write_text(notice_text(license_text), encoding="utf-8")
    return sha256(text)


def check(folder=FOLDER, expected_sha256=None):
    """What is wrong with the committed files, as readable lines (empty: current).

    Inputs:
    - folder: the folder holding the three files (rnnkit/corpus/)
    - expected_sha256: the text's committed SHA-256 (default: rnnkit.data.CORPUS_SHA256)

    Returns:
    - list of strings, one per problem.
    """
    if expected_sha256 is None:
        from rnnkit.data import CORPUS_SHA256 as expected_sha256
    folder = Path(folder)
    missing = [f"{folder / p.name} is missing" for p in (SNAPSHOT, NOTICE, LICENSE)
               if not (folder / p.name).is_file()]
    if missing:
        return missing
    problems = []
    try:
        text = read_snapshot(folder / SNAPSHOT.name)
    except (OSError, EOFError, UnicodeDecodeError) as err:  # gzip.BadGzipFile is an OSError
        return [f"{folder / SNAPSHOT.name} cannot be read: {err}"]
    if sha256(text) != expected_sha256:
        problems.append(f"{SNAPSHOT.name}: text SHA-256 {sha256(text)}, committed {expected_sha256}")
    if len(text) != CHARS:
        problems.append(f"{SNAPSHOT.name}: {len(text):,} characters, not {CHARS:,}")
    license_text = (folder / LICENSE.name).read_text(encoding="utf-8")
    if "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" not in license_text:
        problems.append(f"{LICENSE.name} does not hold the PSF License Agreement")
    try:
        if (folder / NOTICE.name).read_text(encoding="utf-8") != notice_text(license_text):
            problems.append(f"{NOTICE.name} is not the notice the generator writes")
    except ValueError as err:
        problems.append(f"{LICENSE.name}: {err}")
    return problems


def reproduced_here(folder=FOLDER):
    """Whether this Python's pydoc_data gives the committed text (True/False), or None on another version."""
    if ".".join(map(str, sys.version_info[:3])) != SOURCE_VERSION:
        return None
    return source_text() == read_snapshot(Path(folder) / SNAPSHOT.name)


def run(args):
    if args.check:
        problems = check()
        if problems:
            print(f"{FOLDER} is not the committed corpus snapshot:", file=sys.stderr)
            for p in problems:
                print("  " + p, file=sys.stderr)
            return 1
        here = reproduced_here()
        if here is False:
            print("this Python's pydoc_data does not give the snapshot's text", file=sys.stderr)
            return 1
        rebuilt = ("; rebuilt from this Python's pydoc_data: the same" if here
                   else f" (not rebuilt: this Python is not {SOURCE_VERSION})")
        print(f"{FOLDER} is current{rebuilt}")
        return 0
    digest = write()
    print(f"wrote {FOLDER} ({SNAPSHOT.stat().st_size / 1024:.0f} kB snapshot); text SHA-256 {digest}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.building.corpus",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; fail if the committed snapshot, notice or licence is stale")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

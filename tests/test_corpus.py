"""Lesson 8's corpus is a frozen snapshot (rnnkit/corpus/), the same text on every Python.

The snapshot's text is pinned by its SHA-256 (rnnkit.data.CORPUS_SHA256); on the Python it was
cut from, it is rebuilt from the standard library's pydoc_data and compared (an oracle outside
this repository). The notice and licence the PSF License Agreement asks for sit beside it, and
the three files reach every folder a learner gets.
"""

import gzip
import shutil
import subprocess
import sys

import pytest

from autograder import paths
from autograder.building import corpus, course, release
from rnnkit import data

LESSON_8 = next(a for a in course.ASSIGNMENTS if a.startswith("08"))
FILES = ("pydoc_topics.txt.gz", "NOTICE", "LICENSE-Python.txt")
ON_SOURCE_PYTHON = ".".join(map(str, sys.version_info[:3])) == corpus.SOURCE_VERSION


def test_the_committed_snapshot_is_current():
    assert corpus.check() == []
    text = data.char_corpus()
    assert len(text) == corpus.CHARS == 300_000
    assert data.char_corpus(max_chars=1000) == text[:1000]
    # The help topics: the first topic in sorted order is "assert", the statement's reference page.
    assert text.startswith("The \"assert\" statement\n")


@pytest.mark.skipif(not ON_SOURCE_PYTHON, reason=f"the snapshot is cut from Python {corpus.SOURCE_VERSION}")
def test_the_snapshot_is_what_the_standard_library_holds():
    from pydoc_data.topics import topics

    joined = "\n\n".join(topics[name].strip() for name in sorted(topics))
    assert data.char_corpus() == joined[:300_000]
    assert corpus.reproduced_here() is True


def test_the_notice_quotes_psf_copyright_and_the_licence_is_cpythons():
    notice = (paths.RNNKIT / "corpus" / "NOTICE").read_text(encoding="utf-8")
    licence = (paths.RNNKIT / "corpus" / "LICENSE-Python.txt").read_text(encoding="utf-8")
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in licence
    assert 'PSF\'s License Agreement and PSF\'s notice of copyright' in " ".join(licence.split())
    flat = " ".join(notice.split())
    assert "Copyright (c) 2001, 2002," in flat
    assert "2023 Python Software Foundation; All Rights Reserved" in flat
    assert "pydoc_data.topics of CPython 3.11.7" in flat and "LICENSE-Python.txt" in flat
    if ON_SOURCE_PYTHON:
        try:
            assert licence == corpus.python_license()
        except FileNotFoundError:
            pass


@pytest.fixture()
def copied(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(paths.RNNKIT / "corpus", folder)
    return folder


def test_check_names_a_changed_text_notice_or_licence_and_a_missing_file(copied):
    assert corpus.check(copied) == []
    snapshot = copied / "pydoc_topics.txt.gz"
    good = snapshot.read_bytes()
    changed = corpus.read_snapshot(snapshot).replace("assert", "Assert")
    snapshot.write_bytes(gzip.compress(changed.encode("utf-8")))
    (problem,) = corpus.check(copied)
    assert "SHA-256" in problem
    snapshot.write_bytes(good[:1000])
    assert "cannot be read" in corpus.check(copied)[0]
    snapshot.write_bytes(good)
    (copied / "NOTICE").write_text("made up\n", encoding="utf-8")
    assert corpus.check(copied) == ["NOTICE is not the notice the generator writes"]
    (copied / "LICENSE-Python.txt").write_text("no licence\n", encoding="utf-8")
    assert len(corpus.check(copied)) == 2
    (copied / "NOTICE").unlink()
    assert corpus.check(copied) == [f"{copied / 'NOTICE'} is missing"]


def test_char_corpus_refuses_a_changed_or_missing_snapshot(copied, monkeypatch):
    snapshot = copied / "pydoc_topics.txt.gz"
    monkeypatch.setattr(data, "CORPUS_FILE", snapshot)
    assert data.char_corpus(max_chars=20) == "The \"assert\" statement"[:20]
    snapshot.write_bytes(gzip.compress(b"The lesson would train on this instead."))
    with pytest.raises(ValueError, match="copy rnnkit/corpus/ again"):
        data.char_corpus()
    snapshot.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="cannot be read"):
        data.char_corpus()
    snapshot.unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        data.char_corpus()


def test_the_command_checks_and_refuses_to_write_from_another_python(monkeypatch, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "autograder.building.corpus", "--check"],
                          capture_output=True, text=True, cwd=paths.REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "is current" in proc.stdout
    monkeypatch.setattr(corpus, "SOURCE_VERSION", "2.7.18")
    with pytest.raises(SystemExit, match="CPython 2.7.18"):
        corpus.write(tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_corpus_reaches_the_course_folder_and_every_assignment(tmp_path):
    release._copy_package(tmp_path / "learner" / "rnnkit", solutions=False)
    course.write_assignment_package(LESSON_8, tmp_path / "assignment" / "rnnkit")
    for folder in (tmp_path / "learner", tmp_path / "assignment"):
        for name in FILES:
            shipped = folder / "rnnkit" / "corpus" / name
            assert shipped.read_bytes() == (paths.RNNKIT / "corpus" / name).read_bytes(), shipped
    # The learner's copy of rnnkit reads its own snapshot.
    script = "from rnnkit import data; print(data.CORPUS_FILE); print(len(data.char_corpus()))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path / "learner", env={"PYTHONPATH": str(tmp_path / "learner")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / "learner" / "rnnkit" / "corpus" / FILES[0]), "300000"]

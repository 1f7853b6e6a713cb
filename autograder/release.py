"""python -m autograder release (being written)."""


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("python -m autograder release: not available yet")

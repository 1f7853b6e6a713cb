"""python -m autograder demo (being written)."""


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("python -m autograder demo: not available yet")

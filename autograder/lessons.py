"""python -m autograder lessons (being written)."""


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("python -m autograder lessons: not available yet")

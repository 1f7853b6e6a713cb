"""What is checked, in which lesson, for how many points, and what the checks need to know.

One entry per learner function: the facts the learner's copy of the checks needs
(the lesson, the points, the names of the returned values for messages, the named
tuple of parameters among the arguments). ``grade_id`` is the nbgrader grade id of
the locked check cell that reports it; the trusted grader writes its score there.
How a function is checked (its cases, known mistakes, ways to write it right) is
its trusted spec in ``autograder/specs/<module>.py``; a test fails when either half
is missing. This file uses no imports beyond the standard library so that it can
travel with the learner's copy of the checks.
"""

from typing import NamedTuple


class Lesson(NamedTuple):
    assignment: str  # nbgrader assignment name, also the notebook's file stem
    title: str


class CheckSpec(NamedTuple):
    check_id: str  # "<module>.<function>" inside rnnkit
    lesson: str  # assignment name
    points: float
    # The returned value's name, or one name per returned value (a tuple), as messages say them.
    outputs: str | tuple
    # "<module>.<Class>" of the named tuple of parameters among the arguments ("" when none);
    # "probe.ProbeParams" is the probe cell's (rnncheck/probe.py), the others the learner's.
    params: str = ""

    @property
    def module(self):
        return self.check_id.split(".")[0]

    @property
    def function(self):
        return self.check_id.split(".")[1]

    @property
    def grade_id(self):
        return "check_" + self.check_id.replace(".", "_")


LESSONS = [
    Lesson("00-orientation", "Orientation: how the course works"),
    Lesson("01-recurrence", "From neural networks to RNNs"),
    Lesson("02-basic-rnn", "The basic RNN"),
    Lesson("03-multilayer", "Multilayer RNNs"),
    Lesson("04-lstm", "Long short-term memory"),
    Lesson("05-gru", "Gated recurrent units"),
    Lesson("06-bptt", "Training by backpropagation through time"),
    Lesson("07-compare", "RNN, LSTM and GRU compared"),
    Lesson("08-text", "Generating text"),
]

_PROBE = "probe.ProbeParams"
CHECKS = [
    CheckSpec("sequence.unroll", "01-recurrence", 3, ("ys", "state"), _PROBE),
    CheckSpec("rnn.rnn_step", "02-basic-rnn", 3, "s"),
    CheckSpec("multilayer.stacked_forward", "03-multilayer", 3, ("ys", "states"), _PROBE),
    CheckSpec("lstm.forget_gate", "04-lstm", 1, "f"),
    CheckSpec("lstm.input_gate", "04-lstm", 1, "I"),
    CheckSpec("lstm.input_activation", "04-lstm", 1, "a"),
    CheckSpec("lstm.output_gate", "04-lstm", 1, "O"),
    CheckSpec("lstm.new_state", "04-lstm", 2, "s"),
    CheckSpec("lstm.final_output", "04-lstm", 1, "y"),
    CheckSpec("lstm.lstm_step", "04-lstm", 3, ("y", "s"), "lstm.LSTMParams"),
    CheckSpec("gru.reset_gate", "05-gru", 1, "r"),
    CheckSpec("gru.update_gate", "05-gru", 1, "u"),
    CheckSpec("gru.input_activation", "05-gru", 2, "a"),
    CheckSpec("gru.final_output", "05-gru", 2, "y"),
    CheckSpec("gru.gru_step", "05-gru", 3, "y", "gru.GRUParams"),
    CheckSpec("rnn.rnn_step_backward", "06-bptt", 3, ("dx", "ds_prev", "dW", "db")),
    CheckSpec("lstm.lstm_step_backward", "06-bptt", 4, ("dx", "dy_prev", "ds_prev", "grads"),
              "lstm.LSTMParams"),
    CheckSpec("gru.gru_step_backward", "06-bptt", 4, ("dx", "dy_prev", "grads"), "gru.GRUParams"),
    CheckSpec("sequence.bptt", "06-bptt", 3, ("dxs", "dstate0", "dparams"), _PROBE),
    CheckSpec("multilayer.stacked_backward", "06-bptt", 3, ("dxs", "dstates0", "dlayer_params"), _PROBE),
    CheckSpec("language.temporal_softmax_loss", "08-text", 3, ("loss", "dlogits")),
]

CHECKS_BY_ID = {c.check_id: c for c in CHECKS}
# Every parameter class some case passes, registry order.
PARAM_CLASSES = tuple(dict.fromkeys(c.params for c in CHECKS if c.params))


def checks_for(lesson):
    """The checks of one lesson (assignment name), in teaching order."""
    return [c for c in CHECKS if c.lesson == lesson]

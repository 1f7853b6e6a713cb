"""rnnkit: basic RNN, LSTM and GRU cells in plain numpy, written in the notation
of the course memo, with unrolling, stacking, backpropagation through time and a
small training kit.

Conventions: rows are examples, x (B, D), states (B, H); every weight is
(H, D + H) acting on [x_t, y_{t-1}]; sequences are time-major (T, B, D).
"""

from .cells import CELLS, GRU, LSTM, LSTM_MEMO, RNN
from .gradcheck import check_gradients, extrapolated_gradient, numerical_gradient, relative_error
from .gru import GRUParams, gru_step, gru_step_backward
from .lstm import LSTMParams, lstm_step, lstm_step_backward
from .multilayer import stacked_backward, stacked_forward
from .rnn import RNNParams, rnn_step, rnn_step_backward
from .sequence import bptt, unroll

__all__ = [
    "CELLS", "GRU", "LSTM", "LSTM_MEMO", "RNN",
    "GRUParams", "LSTMParams", "RNNParams",
    "gru_step", "lstm_step", "rnn_step",
    "stacked_forward", "unroll",
    "gru_step_backward", "lstm_step_backward", "rnn_step_backward",
    "bptt", "stacked_backward",
    "check_gradients", "extrapolated_gradient", "numerical_gradient", "relative_error",
]

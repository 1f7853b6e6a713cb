# ruff: noqa: E501  (a table of source snippets; long lines read better whole)
"""Mutants and correct variants of every learner function, for tests/test_mutations.py.

Each entry is (name, change, recognised) where ``change`` is either a new body
(source text, indented as at the top of the function) or a list of (old, new)
text replacements applied inside the function's solution region of the
reference. ``recognised`` (mutants only): a piece of the mistake name the
judge's message must contain, or None.
"""

GATES = {  # check id -> (W name, b name)
    "lstm.forget_gate": ("W_f", "b_f"),
    "lstm.input_gate": ("W_i", "b_i"),
    "lstm.output_gate": ("W_o", "b_o"),
    "gru.reset_gate": ("W_r", "b_r"),
    "gru.update_gate": ("W_u", "b_u"),
}


def _sigmoid_gate(W, b):
    z = f"np.concatenate([x, y_prev], axis=-1) @ {W}.T + {b}"
    mutants = [
        ("tanh for sigmoid", f"return tanh({z})\n", "tanh instead of sigmoid"),
        ("sign slip", f"return 1 / (1 + np.exp({z}))\n", "sign slip"),
        ("missing bias", f"return sigmoid(np.concatenate([x, y_prev], axis=-1) @ {W}.T)\n", "missing bias"),
        ("[y_prev, x] order", f"return sigmoid(np.concatenate([y_prev, x], axis=-1) @ {W}.T + {b})\n",
         "[y_prev, x] order"),
        ("no activation", f"return {z}\n", "no activation"),
        ("y_prev ignored", f"return sigmoid(x @ {W}[:, :x.shape[-1]].T + {b})\n", "y_prev ignored"),
        ("bias twice", f"return sigmoid({z} + {b})\n", None),
        ("clipped pre-activation", f"return sigmoid(np.clip({z}, -10, 10))\n", None),
        ("2-D only (axis=1)", f"return sigmoid(np.concatenate([x, y_prev], axis=1) @ {W}.T + {b})\n", None),
        ("in-place on y_prev", f"y_prev *= 1.5\nreturn sigmoid(np.concatenate([x, y_prev / 1.5], axis=-1) @ {W}.T + {b})\n",
         "in-place modification"),
        ("float64 result", f"return sigmoid({z}).astype(np.float64)\n", None),
        ("returns a list", f"return sigmoid({z}).tolist()\n", None),
        ("rows mixed (batch mean)", f"g = sigmoid({z})\nreturn 0.5 * g + 0.5 * g.mean(axis=0)\n", None),
    ]
    variants = [
        ("split weight blocks", f"D = x.shape[-1]\nreturn sigmoid(x @ {W}[:, :D].T + y_prev @ {W}[:, D:].T + {b})\n"),
        ("einsum", f"z = np.einsum('...k,hk->...h', np.concatenate([x, y_prev], axis=-1), {W}) + {b}\n"
                   "return sigmoid(z)\n"),
        ("stable sigmoid by hand", f"z = {z}\ne = np.exp(-np.abs(z))\n"
                                   "return np.where(z >= 0, 1 / (1 + e), e / (1 + e))\n"),
        ("naive sigmoid", f"return 1 / (1 + np.exp(-({z})))\n"),
        ("sigmoid through tanh", f"return 0.5 * (1 + np.tanh(0.5 * ({z})))\n"),
        ("in-place arithmetic on fresh arrays", f"z = np.concatenate([x, y_prev], axis=-1) @ {W}.T\nz += {b}\n"
                                                "np.negative(z, out=z)\nnp.exp(z, out=z)\nz += 1\n"
                                                "np.reciprocal(z, out=z)\nreturn z\n"),
        ("float64 inside, input dtype out", f"z = np.concatenate([x, y_prev], axis=-1).astype(np.float64) @ "
                                            f"{W}.T.astype(np.float64) + {b}\nreturn sigmoid(z).astype(x.dtype)\n"),
    ]
    return mutants, variants


def _tanh_gate(W, b, prev="y_prev"):
    z = f"np.concatenate([x, {prev}], axis=-1) @ {W}.T + {b}"
    mutants = [
        ("sigmoid for tanh", f"return 1 / (1 + np.exp(-({z})))\n", "sigmoid instead of tanh"),
        ("sign slip", f"return tanh(-({z}))\n", "sign slip"),
        ("missing bias", f"return tanh(np.concatenate([x, {prev}], axis=-1) @ {W}.T)\n", "missing bias"),
        ("order", f"return tanh(np.concatenate([{prev}, x], axis=-1) @ {W}.T + {b})\n", "order"),
        ("no activation", f"return {z}\n", "no activation"),
        ("previous ignored", f"return tanh(x @ {W}[:, :x.shape[-1]].T + {b})\n", "ignored"),
        ("in-place on the bias", f"{b} += 0.25\nreturn tanh({z} - 0.25)\n", "in-place modification"),
        ("float64 result", f"return tanh({z}).astype(np.float64)\n", None),
        ("transposed weights used as is", f"return tanh(np.concatenate([x, {prev}], axis=-1) @ {W}[:, ::-1].T + {b})\n",
         None),
    ]
    variants = [
        ("split weight blocks", f"D = x.shape[-1]\nreturn tanh(x @ {W}[:, :D].T + {prev} @ {W}[:, D:].T + {b})\n"),
        ("einsum", f"return np.tanh(np.einsum('...k,hk->...h', np.concatenate([x, {prev}], axis=-1), {W}) + {b})\n"),
        ("in-place on a fresh array", f"z = np.concatenate([x, {prev}], axis=-1) @ {W}.T\nz += {b}\n"
                                      "np.tanh(z, out=z)\nreturn z\n"),
        ("tanh through a stable sigmoid", f"return 2 * sigmoid(2 * ({z})) - 1\n" if prev == "y_prev" else
         f"z = {z}\ne = np.exp(-2 * np.abs(z))\nreturn np.sign(z) * (1 - e) / (1 + e)\n"),
        ("hstack", f"return tanh(np.hstack([x, {prev}]) @ {W}.T + {b})\n"),
    ]
    return mutants, variants


MUTANTS, VARIANTS = {}, {}
for _cid, (_W, _b) in GATES.items():
    MUTANTS[_cid], VARIANTS[_cid] = _sigmoid_gate(_W, _b)
MUTANTS["lstm.input_activation"], VARIANTS["lstm.input_activation"] = _tanh_gate("W_a", "b_a")
MUTANTS["rnn.rnn_step"], VARIANTS["rnn.rnn_step"] = _tanh_gate("W", "b", prev="s_prev")
MUTANTS["rnn.rnn_step"] += [
    ("in-place on s_prev, returned", "s_prev[...] = tanh(np.concatenate([x, s_prev], axis=-1) @ W.T + b)\n"
                                     "return s_prev\n", "in-place modification"),
]

_ZA = "np.concatenate([x, r * y_prev], axis=-1) @ W_a.T + b_a"
MUTANTS["gru.input_activation"] = [
    ("reset not applied", "return tanh(np.concatenate([x, y_prev], axis=-1) @ W_a.T + b_a)\n", "reset gate not applied"),
    ("reset after the product", "D = x.shape[-1]\nreturn tanh(x @ W_a[:, :D].T + r * (y_prev @ W_a[:, D:].T) + b_a)\n",
     "after the product"),
    ("1 - r", "return tanh(np.concatenate([x, (1 - r) * y_prev], axis=-1) @ W_a.T + b_a)\n", "1 - r"),
    ("sigmoid for tanh", f"return sigmoid({_ZA})\n", "sigmoid instead of tanh"),
    ("sign slip", f"return tanh(-({_ZA}))\n", "sign slip"),
    ("missing bias", "return tanh(np.concatenate([x, r * y_prev], axis=-1) @ W_a.T)\n", "missing bias"),
    ("order", "return tanh(np.concatenate([r * y_prev, x], axis=-1) @ W_a.T + b_a)\n", "order"),
    ("in-place y_prev *= r", "y_prev *= r\nreturn tanh(np.concatenate([x, y_prev], axis=-1) @ W_a.T + b_a)\n", "in-place modification"),
    ("reset on the whole input", "D = x.shape[-1]\nz = np.concatenate([x, y_prev], axis=-1) @ W_a.T + b_a\n"
                                 "return tanh(r * z)\n", None),
]
VARIANTS["gru.input_activation"] = [
    ("split weight blocks", "D = x.shape[-1]\nreturn tanh(x @ W_a[:, :D].T + (r * y_prev) @ W_a[:, D:].T + b_a)\n"),
    ("einsum", "ry = np.einsum('...h,...h->...h', r, y_prev)\n"
               "return tanh(np.einsum('...k,hk->...h', np.concatenate([x, ry], axis=-1), W_a) + b_a)\n"),
    ("in-place on a fresh array", "ry = r.copy()\nry *= y_prev\nz = np.concatenate([x, ry], axis=-1) @ W_a.T\n"
                                  "z += b_a\nnp.tanh(z, out=z)\nreturn z\n"),
    ("multiply", "return np.tanh(np.matmul(np.concatenate([x, np.multiply(r, y_prev)], axis=-1), W_a.T) + b_a)\n"),
]

MUTANTS["lstm.new_state"] = [
    ("memo's forget-less update", "return I * a + s_prev\n", "forget-less"),
    ("gates swapped", "return f * a + I * s_prev\n", "swapped"),
    ("old state dropped", "return I * a\n", "old state dropped"),
    ("new input dropped", "return f * s_prev\n", "new input dropped"),
    ("in-place on s_prev", "s_prev *= f\ns_prev += I * a\nreturn s_prev\n", "in-place modification"),
    ("out= into s_prev", "np.multiply(f, s_prev, out=s_prev)\nreturn s_prev + I * a\n", "in-place modification"),
    ("minus", "return f * s_prev - I * a\n", None),
    ("float64 result", "return (f * s_prev + I * a).astype(np.float64)\n", None),
]
VARIANTS["lstm.new_state"] = [
    ("np.add", "return np.add(np.multiply(f, s_prev), np.multiply(I, a))\n"),
    ("in-place on a fresh array", "s = f * s_prev\ns += I * a\nreturn s\n"),
    ("einsum", "return np.einsum('...h,...h->...h', f, s_prev) + np.einsum('...h,...h->...h', I, a)\n"),
    ("reordered", "return a * I + s_prev * f\n"),
]

MUTANTS["lstm.final_output"] = [
    ("O*s without tanh", "return O * s\n", "without tanh"),
    ("tanh after the product", "return tanh(O * s)\n", "tanh applied after"),
    ("sigmoid for tanh", "return O * sigmoid(s)\n", "sigmoid instead of tanh"),
    ("output gate ignored", "return tanh(s)\n", "output gate ignored"),
    ("tanh in place on s", "np.tanh(s, out=s)\nreturn O * s\n", "in-place modification"),
    ("returns a Python list", "return (O * tanh(s)).tolist()\n", None),
]
VARIANTS["lstm.final_output"] = [
    ("np.tanh", "return O * np.tanh(s)\n"),
    ("in-place on a fresh array", "y = np.tanh(s)\ny *= O\nreturn y\n"),
    ("np.multiply", "return np.multiply(O, tanh(s))\n"),
    ("tanh through a stable sigmoid", "return O * (2 * sigmoid(2 * s) - 1)\n"),
]

MUTANTS["gru.final_output"] = [
    ("PyTorch's mix", "return u * y_prev + (1 - u) * a\n", "PyTorch's mix"),
    ("missing 1 - u", "return y_prev + u * a\n", "missing (1 - u)"),
    ("y_prev dropped", "return u * a\n", "y_prev dropped"),
    ("in-place on y_prev", "y_prev *= 1 - u\ny_prev += u * a\nreturn y_prev.copy()\n", "in-place modification"),
    ("u on both", "return u * y_prev + u * a\n", None),
]
VARIANTS["gru.final_output"] = [
    ("interpolation form", "return y_prev + u * (a - y_prev)\n"),
    ("in-place on a fresh array", "y = a - y_prev\ny *= u\ny += y_prev\nreturn y\n"),
    ("np.add", "return np.add((1 - u) * y_prev, u * a)\n"),
    ("reordered", "return u * a + (1.0 - u) * y_prev\n"),
]

MUTANTS["lstm.lstm_step"] = [
    ("memo's forget-less update", [("s = new_state(f, I, a, s_prev)", "s = memo_new_state(I, a, s_prev)")],
     "forget-less"),
    ("O*s without tanh", [("y = final_output(O, s)", "y = O * s")], "without tanh"),
    ("old state in the output", [("y = final_output(O, s)", "y = final_output(O, s_prev)")], "old state used"),
    ("forget/input parameters swapped", [("forget_gate(x, y_prev, p.W_f, p.b_f)", "forget_gate(x, y_prev, p.W_i, p.b_i)"),
                                         ("input_gate(x, y_prev, p.W_i, p.b_i)", "input_gate(x, y_prev, p.W_f, p.b_f)")],
     "parameters swapped"),
    ("input/output parameters swapped", [("input_gate(x, y_prev, p.W_i, p.b_i)", "input_gate(x, y_prev, p.W_o, p.b_o)"),
                                         ("output_gate(x, y_prev, p.W_o, p.b_o)", "output_gate(x, y_prev, p.W_i, p.b_i)")],
     "parameters swapped"),
    ("[y_prev, x] order", "p = params\nz = np.concatenate([y_prev, x], axis=-1)\n"
                          "f = sigmoid(z @ p.W_f.T + p.b_f)\nI = sigmoid(z @ p.W_i.T + p.b_i)\n"
                          "a = tanh(z @ p.W_a.T + p.b_a)\nO = sigmoid(z @ p.W_o.T + p.b_o)\n"
                          "s = f * s_prev + I * a\nreturn O * tanh(s), s\n", "order"),
    ("(s, y) returned", [("return y, s", "return s, y")], "returned instead"),
    ("y_prev as the old state", [("s = new_state(f, I, a, s_prev)", "s = new_state(f, I, a, y_prev)")], None),
    ("returns y only", [("return y, s", "return y")], None),
    ("tanh forget gate inline", [("f = forget_gate(x, y_prev, p.W_f, p.b_f)",
                                  "f = tanh(np.concatenate([x, y_prev], axis=-1) @ p.W_f.T + p.b_f)")], None),
]
VARIANTS["lstm.lstm_step"] = [
    ("fused weights, one product", "p = params\nH = s_prev.shape[-1]\n"
                                   "W = np.concatenate([p.W_f, p.W_i, p.W_a, p.W_o])\n"
                                   "b = np.concatenate([p.b_f, p.b_i, p.b_a, p.b_o])\n"
                                   "z = np.concatenate([x, y_prev], axis=-1) @ W.T + b\n"
                                   "f, I, a, O = (z[..., k * H:(k + 1) * H] for k in range(4))\n"
                                   "f, I, a, O = sigmoid(f), sigmoid(I), np.tanh(a), sigmoid(O)\n"
                                   "s = f * s_prev + I * a\nreturn O * np.tanh(s), s\n"),
    ("keyword arguments", [("forget_gate(x, y_prev, p.W_f, p.b_f)", "forget_gate(x=x, y_prev=y_prev, W_f=p.W_f, b_f=p.b_f)"),
                           ("new_state(f, I, a, s_prev)", "new_state(f=f, I=I, a=a, s_prev=s_prev)")]),
    ("tuple indexing", [("p = params", "p = params\n    W_f, b_f = params[0], params[1]"),
                        ("forget_gate(x, y_prev, p.W_f, p.b_f)", "forget_gate(x, y_prev, W_f, b_f)")]),
    ("inline, split blocks", "p = params\nD = x.shape[-1]\n"
                             "def pre(W, b):\n    return x @ W[:, :D].T + y_prev @ W[:, D:].T + b\n"
                             "f, I = sigmoid(pre(p.W_f, p.b_f)), sigmoid(pre(p.W_i, p.b_i))\n"
                             "a, O = tanh(pre(p.W_a, p.b_a)), sigmoid(pre(p.W_o, p.b_o))\n"
                             "s = f * s_prev\ns += I * a\nreturn O * tanh(s), s\n"),
]

MUTANTS["gru.gru_step"] = [
    ("PyTorch's mix", [("return final_output(u, y_prev, a)", "return final_output(1 - u, y_prev, a)")], "PyTorch's mix"),
    ("reset not applied", [("a = input_activation(x, y_prev, r, p.W_a, p.b_a)",
                            "a = input_activation(x, y_prev, np.ones_like(r), p.W_a, p.b_a)")], "reset gate not applied"),
    ("reset after the product", [("a = input_activation(x, y_prev, r, p.W_a, p.b_a)",
                                  "D = x.shape[-1]\n    a = tanh(x @ p.W_a[:, :D].T + r * (y_prev @ p.W_a[:, D:].T) + p.b_a)")],
     "after the product"),
    ("reset/update parameters swapped", [("reset_gate(x, y_prev, p.W_r, p.b_r)", "reset_gate(x, y_prev, p.W_u, p.b_u)"),
                                         ("update_gate(x, y_prev, p.W_u, p.b_u)", "update_gate(x, y_prev, p.W_r, p.b_r)")],
     "parameters swapped"),
    ("update gate used as reset", [("a = input_activation(x, y_prev, r, p.W_a, p.b_a)",
                                    "a = input_activation(x, y_prev, u, p.W_a, p.b_a)")], None),
    ("[y_prev, x] order", "p = params\nz = np.concatenate([y_prev, x], axis=-1)\n"
                          "r = sigmoid(z @ p.W_r.T + p.b_r)\nu = sigmoid(z @ p.W_u.T + p.b_u)\n"
                          "a = tanh(np.concatenate([r * y_prev, x], axis=-1) @ p.W_a.T + p.b_a)\n"
                          "return (1 - u) * y_prev + u * a\n", "order"),
]
VARIANTS["gru.gru_step"] = [
    ("inline", "p = params\nz = np.concatenate([x, y_prev], axis=-1)\n"
               "r = sigmoid(z @ p.W_r.T + p.b_r)\nu = sigmoid(z @ p.W_u.T + p.b_u)\n"
               "a = np.tanh(np.concatenate([x, r * y_prev], axis=-1) @ p.W_a.T + p.b_a)\n"
               "return y_prev + u * (a - y_prev)\n"),
    ("fused gates", "p = params\nH = y_prev.shape[-1]\nz = np.concatenate([x, y_prev], axis=-1)\n"
                    "g = sigmoid(z @ np.concatenate([p.W_r, p.W_u]).T + np.concatenate([p.b_r, p.b_u]))\n"
                    "r, u = g[..., :H], g[..., H:]\n"
                    "a = input_activation(x, y_prev, r, p.W_a, p.b_a)\nreturn final_output(u, y_prev, a)\n"),
    ("keyword arguments", [("final_output(u, y_prev, a)", "final_output(u=u, y_prev=y_prev, a=a)")]),
]

MUTANTS["rnn.rnn_step_backward"] = [
    ("missing tanh derivative", [("dpre = ds * dtanh_from_output(s)", "dpre = ds")], "missing tanh derivative"),
    ("derivative from the pre-activation", [("dpre = ds * dtanh_from_output(s)",
                                             "dpre = ds * (1 - (z @ W.T + b) ** 2)")], "pre-activation"),
    ("no gradient to s_prev", [("return dz[..., :D], dz[..., D:], dW, db",
                                "return dz[..., :D], np.zeros_like(s_prev), dW, db")], "no gradient path"),
    ("db not summed", [("db = np.atleast_2d(dpre).sum(axis=0)", "db = dpre")], None),
    ("dW over x only", [("dW = np.atleast_2d(dpre).T @ np.atleast_2d(z)",
                         "dW = np.atleast_2d(dpre).T @ np.atleast_2d(np.concatenate([x, 0 * s_prev], axis=-1))")],
     None),
    ("in-place on ds", [("dpre = ds * dtanh_from_output(s)", "ds *= dtanh_from_output(s)\n    dpre = ds")], "in-place modification"),
    ("sign slip", [("dz = dpre @ W", "dz = -dpre @ W")], None),
]
VARIANTS["rnn.rnn_step_backward"] = [
    ("einsum and split blocks", [("dW = np.atleast_2d(dpre).T @ np.atleast_2d(z)",
                                  "dW = np.einsum('bh,bk->hk', np.atleast_2d(dpre), np.atleast_2d(z))"),
                                 ("return dz[..., :D], dz[..., D:], dW, db",
                                  "return dpre @ W[:, :D], dpre @ W[:, D:], dW, db")]),
    ("tanh derivative from np.tanh", [("s = rnn_step(x, s_prev, W, b)", "s = np.tanh(z @ W.T + b)"),
                                      ("dpre = ds * dtanh_from_output(s)", "dpre = ds * (1 - s ** 2)")]),
    ("in-place on fresh arrays", [("dpre = ds * dtanh_from_output(s)",
                                   "dpre = s * s\n    np.subtract(1, dpre, out=dpre)\n    dpre *= ds")]),
]

MUTANTS["lstm.lstm_step_backward"] = [
    ("missing tanh derivative on the state", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)",
                                               "ds_total = ds + dy * O")], "missing tanh derivative"),
    ("no path from y into the state", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)", "ds_total = ds + 0 * dy")],
     "no gradient path"),
    ("ds ignored", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)",
                     "ds_total = dy * O * dtanh_from_output(tanh_s)")], "ignored"),
    ("ds_prev without the forget gate", [("ds_prev = ds_total * f", "ds_prev = ds_total")], "without the forget gate"),
    ("memo backward for the standard LSTM", [("if memo_form:", "if True:", 2)], None),
    ("sigmoid derivative for a", [("dpre_a = da * dtanh_from_output(a)", "dpre_a = da * dsigmoid_from_output(a)")],
     "sigmoid derivative"),
    ("memo_form ignored", [("if memo_form:", "if False:", 2)], None),
    ("dO with the state, not tanh(s)", [("dO = dy * tanh_s", "dO = dy * s")], None),
    ("in-place on ds", [("ds_total = ds + dy * O * dtanh_from_output(tanh_s)",
                         "ds += dy * O * dtanh_from_output(tanh_s)\n    ds_total = ds")], "in-place modification"),
]
VARIANTS["lstm.lstm_step_backward"] = [
    ("einsum", [("W_f=np.atleast_2d(dpre_f).T @ z2", "W_f=np.einsum('bh,bk->hk', np.atleast_2d(dpre_f), z2)")]),
    ("explicit tanh derivative", [("dtanh_from_output(tanh_s)", "(1 - tanh_s ** 2)")]),
    ("split weight blocks", [("dz = dpre_f @ p.W_f + dpre_i @ p.W_i + dpre_a @ p.W_a + dpre_o @ p.W_o",
                              "dz = sum(d @ W for d, W in ((dpre_f, p.W_f), (dpre_i, p.W_i), (dpre_a, p.W_a), "
                              "(dpre_o, p.W_o)))")]),
]

MUTANTS["gru.gru_step_backward"] = [
    ("no gradient through r", [("dr = dry * y_prev", "dr = 0 * dry")], "reset gate"),
    ("PyTorch's mix", [("du = dy * (a - y_prev)", "du = dy * (y_prev - a)"), ("da = dy * u", "da = dy * (1 - u)"),
                       ("dy_prev = dy * (1 - u)", "dy_prev = dy * u")], "PyTorch's mix"),
    ("missing direct path", [("dy_prev = dy * (1 - u)", "dy_prev = 0 * dy")], "direct path"),
    ("missing tanh derivative", [("dpre_a = da * dtanh_from_output(a)", "dpre_a = da")], "tanh derivative"),
    ("missing r on the way back", [("dy_prev = dy_prev + dry * r", "dy_prev = dy_prev + dry")], None),
    ("W_a gradient with z, not z_a", [("np.atleast_2d(dpre_a).T @ np.atleast_2d(z_a)", "np.atleast_2d(dpre_a).T @ z2")],
     None),
]
VARIANTS["gru.gru_step_backward"] = [
    ("einsum", [("W_r=np.atleast_2d(dpre_r).T @ z2", "W_r=np.einsum('bh,bk->hk', np.atleast_2d(dpre_r), z2)")]),
    ("explicit derivatives", [("dpre_r = dr * dsigmoid_from_output(r)", "dpre_r = dr * r * (1 - r)")]),
    ("in-place on fresh arrays", [("dy_prev = dy_prev + dry * r", "dy_prev += dry * r")]),
]

MUTANTS["sequence.unroll"] = [
    ("state not passed on", "ys = []\nfor x in xs:\n    y, state = cell.step(x, state0, params)\n    ys.append(y)\n"
                            "return np.stack(ys), state\n", "state not passed on"),
    ("reverse order", [("return np.stack(ys), state", "return np.stack(ys[::-1]), state")], "reverse"),
    ("initial state returned", [("return np.stack(ys), state", "return np.stack(ys), state0")], "initial state"),
    ("incoming state collected", "ys, state = [], state0\nfor x in xs:\n    ys.append(state[0])\n"
                                 "    _, state = cell.step(x, state, params)\nreturn np.stack(ys), state\n", None),
    ("last output only", [("return np.stack(ys), state", "return ys[-1], state")], None),
    ("list of outputs", [("return np.stack(ys), state", "return ys, state")], None),
]
VARIANTS["sequence.unroll"] = [
    ("preallocated", "y, state = cell.step(xs[0], state0, params)\nys = np.empty((len(xs),) + y.shape, y.dtype)\n"
                     "ys[0] = y\nfor t in range(1, len(xs)):\n    ys[t], state = cell.step(xs[t], state, params)\n"
                     "return ys, state\n"),
    ("index loop, np.array", "state, ys = state0, []\nfor t in range(xs.shape[0]):\n"
                             "    y, state = cell.step(xs[t], state, params)\n    ys.append(y)\n"
                             "return np.array(ys), state\n"),
]

_BPTT = """states = [state0]
for x in xs:
    states.append(cell.step(x, states[-1], params)[1])
dxs = np.zeros_like(xs)
dparams = [np.zeros_like(p) for p in params]
dstate = DSTATE
if dstate is None:
    dstate = tuple(np.zeros_like(s) for s in states[-1])
for t in ORDER:
    dxs[t], NEXT, dparams_t = cell.step_backward(xs[t], states[STATE], params, DYS, dstate)
    dparams = SUM
return dxs, dstate, type(params)(*dparams)
"""


def _bptt(**changes):
    body = _BPTT
    defaults = {"DSTATE": "dstate_T", "ORDER": "reversed(range(len(xs)))", "NEXT": "dstate", "STATE": "t",
                "DYS": "dys[t]", "SUM": "[a + b for a, b in zip(dparams, dparams_t)]"}
    for key, value in {**defaults, **changes}.items():
        body = body.replace(key, value)
    return body


MUTANTS["sequence.bptt"] = [
    ("dstate not carried", _bptt(NEXT="_"), "no gradient path through the state"),
    ("parameter gradients of one step", _bptt(SUM="list(dparams_t)"), "not summed"),
    ("dstate_T ignored", _bptt(DSTATE="None"), "dstate_T ignored"),
    ("forwards in time", _bptt(ORDER="range(len(xs))"), "forwards"),
    ("dys ignored", _bptt(DYS="0 * dys[t]"), "dys ignored"),
    ("states off by one", _bptt(STATE="t + 1"), None),
]
VARIANTS["sequence.bptt"] = [
    ("while loop, probe default", "states = [state0]\nfor x in xs:\n    states.append(cell.step(x, states[-1], params)[1])\n"
                                  "dxs = [None] * len(xs)\ndstate = dstate_T\ntotal = None\nt = len(xs) - 1\n"
                                  "while t >= 0:\n"
                                  "    dxs[t], dstate, g = cell.step_backward(xs[t], states[t], params, dys[t], dstate)\n"
                                  "    total = list(g) if total is None else [a + b for a, b in zip(total, g)]\n"
                                  "    t -= 1\n"
                                  "return np.stack(dxs), dstate, type(params)(*total)\n"),
    ("template as written", _bptt()),
    ("in-place sums", _bptt(SUM="dparams\n    for total, d in zip(dparams, dparams_t):\n        total += d")),
]

MUTANTS["multilayer.stacked_forward"] = [
    ("every layer reads xs", "states = []\nfor state0, params in zip(states0, layer_params):\n"
                             "    ys, state = unroll(cell, xs, state0, params)\n    states.append(state)\n"
                             "return ys, states\n", None),
    ("first layer's parameters", [("xs, state = unroll(cell, xs, state0, params)",
                                   "xs, state = unroll(cell, xs, state0, layer_params[0])")], None),
    ("first layer's outputs", "states, top = [], None\nfor state0, params in zip(states0, layer_params):\n"
                              "    xs, state = unroll(cell, xs, state0, params)\n    top = xs if top is None else top\n"
                              "    states.append(state)\nreturn top, states\n", "first layer's outputs"),
    ("states reversed", [("return xs, states", "return xs, states[::-1]")], "reverse order"),
    ("first initial state everywhere", [("xs, state = unroll(cell, xs, state0, params)",
                                         "xs, state = unroll(cell, xs, states0[0], params)")], None),
]
VARIANTS["multilayer.stacked_forward"] = [
    ("index loop", "inputs, states = xs, []\nfor l in range(len(layer_params)):\n"
                   "    inputs, st = unroll(cell, inputs, states0[l], layer_params[l])\n    states.append(st)\n"
                   "return inputs, states\n"),
    ("time loop inside, no unroll", "import numpy as np\nstates, inputs = [], xs\nfor state, params in zip(states0, layer_params):\n"
                                    "    outs = []\n    for x in inputs:\n        y, state = cell.step(x, state, params)\n"
                                    "        outs.append(y)\n    inputs = np.stack(outs)\n    states.append(state)\n"
                                    "return inputs, states\n"),
]

MUTANTS["multilayer.stacked_backward"] = [
    ("dys to every layer", [("cell, layer_inputs[l], states0[l], layer_params[l], d_outputs, dstates_T[l]",
                             "cell, layer_inputs[l], states0[l], layer_params[l], dys, dstates_T[l]")], None),
    ("gradients reversed", [("return d_outputs, dstates0, dlayer_params",
                             "return d_outputs, dstates0, dlayer_params[::-1]")], "reverse order"),
    ("bottom-up", [("for l in reversed(range(L)):", "for l in range(L):")], None),
    ("lower layers get zero", [("        d_outputs, dstates0[l], dlayer_params[l] = bptt(",
                                "        d_outputs = d_outputs if l == L - 1 else 0 * d_outputs\n"
                                "        d_outputs, dstates0[l], dlayer_params[l] = bptt(")], None),
]
VARIANTS["multilayer.stacked_backward"] = [
    ("insert at the front", "inputs, layer_inputs = xs, []\nfor s0, p in zip(states0, layer_params):\n"
                            "    layer_inputs.append(inputs)\n    inputs, _ = unroll(cell, inputs, s0, p)\n"
                            "d, dst, dps = dys, [], []\n"
                            "for s0, p, xin in reversed(list(zip(states0, layer_params, layer_inputs))):\n"
                            "    d, ds0, dp = bptt(cell, xin, s0, p, d)\n    dst.insert(0, ds0)\n"
                            "    dps.insert(0, dp)\nreturn d, dst, dps\n"),
    ("outputs from stacked_forward", "L = len(layer_params)\ninputs = [xs]\nfor s0, p in zip(states0, layer_params):\n"
                                     "    inputs.append(unroll(cell, inputs[-1], s0, p)[0])\n"
                                     "top, _ = stacked_forward(cell, xs, states0, layer_params)\n"
                                     "assert top.shape == inputs[-1].shape\n"
                                     "d, dst, dps = dys, [None] * L, [None] * L\nfor l in range(L - 1, -1, -1):\n"
                                     "    d, dst[l], dps[l] = bptt(cell, inputs[l], states0[l], layer_params[l], d, None)\n"
                                     "return d, dst, dps\n"),
]

# Shortcuts through the reference tools that ship complete with the learner's rnnkit
# (the fused fast path, the numerical gradient checker): correct values, but graded
# functions may not use them.
SHORTCUTS = {
    "rnn.rnn_step_backward": (
        "through the fast path",
        "from . import fast\nxs, s0 = np.atleast_2d(x)[None], np.atleast_2d(s_prev)\n"
        "ys, _, cache = fast.forward('rnn', xs, RNNParams(W, b), (s0,))\n"
        "dxs, (ds0,), g = fast.backward(cache, np.atleast_2d(ds)[None])\n"
        "return dxs[0].reshape(x.shape), ds0.reshape(s_prev.shape), g.W, g.b\n",
    ),
    "gru.gru_step_backward": (
        "numerical gradients",
        "from .gradcheck import extrapolated_gradient\nx, y_prev = x.copy(), y_prev.copy()\n"
        "params = GRUParams(*[a.copy() for a in params])\n"
        "def f():\n    return float(np.sum(gru_step(x, y_prev, params) * dy))\n"
        "return (extrapolated_gradient(f, x), extrapolated_gradient(f, y_prev),\n"
        "        GRUParams(*[extrapolated_gradient(f, a) for a in params]))\n",
    ),
}

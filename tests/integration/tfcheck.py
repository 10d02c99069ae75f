# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks of the tracer's records against the ground truth, shared by the
root integration tests (the environment they run in: tfenv.py).

- Checked(ex): a traced tfenv.Exchange after check_run, with the capture's
  Truth about one connection, the context every assertion prints, and that
  connection's client and server records.
- check_close, check_timeline, check_retransmits: a record's lifecycle, its
  state times and its retransmissions against the packet capture.

Times come from the capture (tfenv.Truth.t_us puts them on a record's t_us
scale); the tolerance is tfenv.TOL_US unless a test says why it needs more.
"""

import functools

from tfenv import TOL_US, check_run, near, records, state_t, states


def context(t, res):
    """What an assertion about one connection prints: its packets in the
    capture (t: its Truth), then every record of the run (res)."""
    return f"capture:\n{t.dump()}\ntracer:\n{res.describe()}"


class Checked:
    """Connection i of a traced Exchange whose run passed check_run: the
    capture's truth about it (t), what assertions print (ctx), and its
    client's and server's records, each asserted to be the only one the
    first time it is used."""

    def __init__(self, ex, i=0):
        self.ex = ex
        self.stats = check_run(ex.trace)
        self.t = ex.truth(i)
        self.cport = ex.client_ports()[i]
        self.ctx = context(self.t, ex.trace)

    @functools.cached_property
    def client(self):
        return self.ex.trace.one("client", self.cport, self.ex.port)

    @functools.cached_property
    def server(self):
        return self.ex.trace.one("server", self.ex.port, self.cport)


# The orderly lifecycles: a record's states by role and how it closed.
LIFECYCLE = {
    ("client", "active"): ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE"],
    ("client", "passive"): ["SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"],
    ("server", "active"): ["SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE"],
    ("server", "passive"): ["SYN_RECV", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"],
}


def check_close(rec, how, ctx):
    """rec closed in order, `how` "active" (it sent the first FIN and handed
    over to a timewait socket) or "passive" (it answered the peer's FIN and
    ended at the ACK of its own)."""
    assert states(rec) == LIFECYCLE[rec["role"], how], ctx
    want = ("active", "time_wait", True) if how == "active" else ("passive", "orderly", False)
    assert (rec["close"], rec["close_end"], rec["time_wait"]) == want, ctx


def check_timeline(rec, t, expect, ctx):
    """expect: [(state, capture time in ns)]: each state's t_us in rec near
    that moment of the capture (t: the connection's Truth)."""
    for state, when_ns in expect:
        near(state_t(rec, state), t.t_us(rec["role"], when_ns), TOL_US,
             f"{rec['role']} {state} t_us", ctx)


def retransmits(rec, kind):
    """rec's retransmissions of one kind ("SYN", "SYNACK", "FIN") with their times."""
    return [r for r in rec["retransmits"] if r["kind"] == kind]


def check_retransmits(rec, kind, sent, t, tol, ctx):
    """One `kind` retransmission in rec for each resend in `sent` (the
    capture's segments of that kind, the original first), each at the time
    the capture saw it (within tol us). Returns them."""
    got = retransmits(rec, kind)
    assert len(got) == len(sent) - 1, ctx
    for r, p in zip(got, sent[1:]):
        near(r["t_us"], t.t_us(rec["role"], p.t_ns), tol, f"{rec['role']} {kind} retransmit t_us", ctx)
    return got


def sweep_period_s(tops, floor):
    """The TIME-WAIT sweep period the tracer reports in its tw_top records:
    floor (--tw-interval), or longer when sweeps cost more than 2% of a CPU
    (a leak-checked tracer, or a host with many sockets: iter/tcp walks the
    whole established hash, every namespace's share of it)."""
    return max([floor] + [t["interval_us"] / 1e6 for t in tops])


def sweeps_s(tr, n, floor):
    """Time to wait for n more sweeps at the period the tracer reports now."""
    return (n + 1) * sweep_period_s(records(tr, "tw_top")[-3:], floor) + 2

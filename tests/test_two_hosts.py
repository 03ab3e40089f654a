"""Two hosts over TCP: two network namespaces joined by a veth pair, one rank in each, through MPICH.

Each namespace is a host of its own network (10.77.0.1 and 10.77.0.2): its own interfaces, its own loopback,
reachable from the other only over the veth link. mpiexec runs in the first; Hydra starts the rank on each
"host" through a launcher script that stands in for ssh (``ip netns exec`` the host's namespace). MPICH's
default network module (UCX) sees that both processes run on one kernel and would pass the data through shared
memory, namespaces or not; OFI's TCP provider (``MPIR_CVAR_CH4_NETMOD=ofi``, ``FI_PROVIDER=tcp``, on the
interface ``FI_TCP_IFACE`` names) sends it over the network, as between real machines, and the veth's byte
counters show it did. MPI starts once the link runs, not merely once it is set up (before, OFI finds no
network but the loopback, and MPI's start fails).

Needs root (``ip netns add``) and iproute2; skips, saying which, where either is missing. Every namespace and
link is removed again (names unique to the run), with any process left in it."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
from test_distributed import MPIEXEC, mpirun

HOSTS = ("10.77.0.1", "10.77.0.2")  # (each pair of namespaces is a network of its own: runs side by side never meet)
LINK = "nnveth"  # each host's end of the link: one name in both namespaces, so that one FI_TCP_IFACE names both
OVER_TCP = {"MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "tcp", "FI_TCP_IFACE": LINK}
TIMEOUT_S = 10  # NEURONET_MPI_TIMEOUT in the fault tests
ENDS_WITHIN_S = TIMEOUT_S + 15  # the timeout, the abort's grace and mpiexec's cleanup, with room for a busy machine

# Hydra calls its ssh as ``ssh [options] HOST COMMAND``: this one runs COMMAND in HOST's namespace instead
LAUNCHER = """#!/bin/sh
while [ "${1#-}" != "$1" ]; do shift; done
case $1 in
    HOST_A) namespace=NAMESPACE_A ;;
    HOST_B) namespace=NAMESPACE_B ;;
    *) echo "launcher: no namespace for host $1" >&2; exit 1 ;;
esac
shift
exec ip netns exec "$namespace" sh -c "$*"
"""


class TwoHosts:
    """Two namespaces joined by a veth pair, each end of it given a host's address."""

    def __init__(self, folder):
        tag = uuid.uuid4().hex[:8]
        self.namespaces = (f"nn-a-{tag}", f"nn-b-{tag}")
        self.launcher = folder / "launcher.sh"
        text = LAUNCHER.replace("HOST_A", HOSTS[0]).replace("HOST_B", HOSTS[1])
        text = text.replace("NAMESPACE_A", self.namespaces[0]).replace("NAMESPACE_B", self.namespaces[1])
        self.launcher.write_text(text)
        self.launcher.chmod(0o755)

    def up(self) -> None:
        a, b = self.namespaces
        ip("netns", "add", a)
        ip("netns", "add", b)
        ip("link", "add", LINK, "netns", a, "type", "veth", "peer", "name", LINK, "netns", b)
        for namespace, host in zip(self.namespaces, HOSTS):
            ip("-n", namespace, "addr", "add", f"{host}/24", "dev", LINK)
            ip("-n", namespace, "link", "set", LINK, "up")
            ip("-n", namespace, "link", "set", "lo", "up")
        # a link set up runs a moment later; MPI started before that finds no network but the loopback
        deadline = time.monotonic() + 10
        while not all(self.running(namespace) for namespace in self.namespaces):
            if time.monotonic() > deadline:
                raise OSError(f"the veth link {LINK} did not come up within 10 s")
            time.sleep(0.05)

    def running(self, namespace: str) -> bool:
        """Whether ``namespace``'s end of the link carries traffic (its operational state is up)."""
        state = ["ip", "netns", "exec", namespace, "cat", f"/sys/class/net/{LINK}/operstate"]
        return subprocess.run(state, capture_output=True, text=True, timeout=10).stdout.strip() == "up"

    def down(self) -> None:
        """Kill what is left in the namespaces, then remove them (and so the veth pair)."""
        for namespace in self.namespaces:
            listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, timeout=10)
            for pid in listed.stdout.split():
                with contextlib.suppress(ProcessLookupError):  # (it ended meanwhile)
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)

    def mpiexec(self, *options: str) -> list[str]:
        """mpiexec in host A, one rank on each host."""
        return ["ip", "netns", "exec", self.namespaces[0], MPIEXEC, *options, "-launcher", "ssh", "-launcher-exec",
                str(self.launcher), "-hosts", ",".join(HOSTS), "-n", "2"]  # fmt: skip

    def bytes_sent_and_received(self) -> tuple[int, int]:
        """What host A's end of the link has sent and received, in bytes."""
        statistics = f"/sys/class/net/{LINK}/statistics"
        read = ["ip", "netns", "exec", self.namespaces[0], "cat", f"{statistics}/tx_bytes", f"{statistics}/rx_bytes"]
        sent, received = subprocess.run(read, capture_output=True, text=True, check=True, timeout=10).stdout.split()
        return int(sent), int(received)

    def cut(self) -> None:
        ip("-n", self.namespaces[0], "link", "set", LINK, "down")


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@pytest.fixture
def hosts(tmp_path):
    if shutil.which("ip") is None:
        pytest.skip("no `ip` (iproute2) to make network namespaces: apt-get install iproute2")
    if os.geteuid() != 0:
        pytest.skip("making network namespaces (ip netns add) needs root")
    two = TwoHosts(tmp_path)
    try:
        try:
            two.up()
        except OSError as exc:
            pytest.skip(f"network namespaces are not permitted here: {exc}")
        yield two
    finally:
        two.down()


def test_two_hosts_with_batch_b_end_where_one_process_with_batch_2b_ends_and_the_gradients_cross_the_link(
    tmp_path, hosts
):
    sent, received = hosts.bytes_sent_and_received()
    done = mpirun(tmp_path, """
        def build():
            nn.set_seed(0)
            model = nn.Sequential([L.Dense(20, 64, activation="relu"), L.Dense(64, 3, activation="softmax")])
            model.compile(optimizer=nn.optimizers.SGD(0.05, momentum=0.9))
            return model
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((96, 20)), rng.integers(0, 3, 96)
        model, alone = build(), build()
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, distributed=True)
        expected = alone.fit(x, y, epochs=3, batch_size=16, verbose=0)
        weights = max(float(np.abs(a - b).max() / np.abs(b).max())
                      for a, b in zip(model.get_weights(), alone.get_weights()))
        gradients = sum(w.nbytes for w in model.get_weights()) * 3 * (96 // 16)  # 3 epochs of 6 steps
        report(size=size, weights=weights, loss=history.history["loss"], expected=expected.history["loss"],
               gradients=gradients)
    """, launch=hosts.mpiexec(), timeout=90, NEURONET_MPI_TIMEOUT="30", **OVER_TCP)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    found = done.result
    assert found["size"] == 2 and found["weights"] < 1e-8
    np.testing.assert_allclose(found["loss"], found["expected"], rtol=1e-8)
    now_sent, now_received = hosts.bytes_sent_and_received()
    # every step's gradient sum went over the link, both ways: not through shared memory
    assert now_sent - sent >= found["gradients"] and now_received - received >= found["gradients"], (
        now_sent - sent, now_received - received, found["gradients"])  # fmt: skip


# Each rank writes its standard error to a log of its own host: once the link is cut, what rank 1 says cannot
# reach mpiexec on host A. After the second epoch (its checkpoint written) each rank leaves a mark; rank 0 then
# waits for the test to cut the link, rank 1 (to be killed) kills itself once rank 0 has left its mark.
FAULTY = """
import os, signal, time
rank = int(os.environ["PMI_RANK"])
os.dup2(os.open(f"rank{rank}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
import numpy as np
import neuronet as nn

class Fault(nn.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            open(f"epoch2.rank{rank}", "w").close()
            while FAULT == "kill" and rank == 1 and not os.path.exists("epoch2.rank0"):
                time.sleep(0.05)  # (rank 0's mark first: mpiexec ends rank 0 as soon as rank 1 dies)
            if FAULT == "kill" and rank == 1:
                os.kill(os.getpid(), signal.SIGKILL)
            while FAULT == "cut" and rank == 0 and not os.path.exists("cut"):
                time.sleep(0.05)

x, y = np.random.default_rng(0).standard_normal((64, 3)), np.arange(64) % 2
model = nn.Sequential([nn.layers.Dense(3, 2, activation="softmax")])
model.compile()
checkpoint = nn.callbacks.ModelCheckpoint("ckpt.nnet", monitor="loss", save_best_only=False)
model.fit(x, y, epochs=1000, batch_size=4, callbacks=[checkpoint, Fault()], verbose=0, distributed=True)
print("FINISHED", rank, flush=True)
"""


def run_faulty(tmp_path, hosts, fault: str, *options: str):
    """Run FAULTY on the two hosts; on ``cut``, cut the link once both ranks have finished epoch 2. What
    mpiexec printed, each rank's log and the seconds from the fault to the job's end."""
    (tmp_path / "job.py").write_text(f"FAULT = {fault!r}\n" + FAULTY)
    env = {**os.environ, **OVER_TCP, "NEURONET_MPI_TIMEOUT": str(TIMEOUT_S)}
    argv = [*hosts.mpiexec(*options), sys.executable, "job.py"]
    with subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as job:  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not all((tmp_path / f"epoch2.rank{r}").exists() for r in (0, 1)):
                assert time.monotonic() < deadline and job.poll() is None
                time.sleep(0.05)
            if fault == "cut":
                hosts.cut()
                (tmp_path / "cut").touch()
            start = time.monotonic()
            said, _ = job.communicate(timeout=ENDS_WITHIN_S + 30)
        except (subprocess.TimeoutExpired, AssertionError):
            with contextlib.suppress(ProcessLookupError):  # (mpiexec may have ended already)
                os.killpg(job.pid, signal.SIGKILL)
            said = job.communicate()[0]
            raise AssertionError(f"the job ended before epoch 2, or hung: {said[-3000:]}") from None
    logs = [(tmp_path / f"rank{r}.log").read_text() for r in (0, 1)]
    return job.returncode, said, logs, time.monotonic() - start


def lost(rank: int, other: int, tmp_path) -> tuple[str, ...]:
    return (
        f"neuronet: rank {rank} of 2: waited {TIMEOUT_S} s in vain at the ",
        f": rank {other} did not answer (",
        f"The last checkpoint: {tmp_path / 'ckpt.nnet'} (epoch 2, written by rank 0). The job ends.",
    )


@pytest.mark.slow
def test_a_cut_link_ends_the_job_on_both_hosts_naming_the_lost_rank_and_the_last_checkpoint(tmp_path, hosts):
    code, said, logs, seconds = run_faulty(tmp_path, hosts, "cut")
    assert code != 0 and "FINISHED" not in said and seconds < ENDS_WITHIN_S, (code, seconds, said[-2000:])
    for rank, log in enumerate(logs):  # each host's own log: neither could tell mpiexec over the link
        assert all(part in log for part in lost(rank, 1 - rank, tmp_path)), log[-2000:]


@pytest.mark.slow
def test_a_killed_rank_ends_the_job_naming_it_and_the_last_checkpoint(tmp_path, hosts):
    """Hydra's own cleanup ends the job as soon as a rank dies, naming its host and process (not its rank,
    nor the checkpoint); with ``-disable-auto-cleanup`` the survivor waits out the timeout and names both."""
    code, said, logs, seconds = run_faulty(tmp_path, hosts, "kill")
    assert code != 0 and "FINISHED" not in said and seconds < ENDS_WITHIN_S, (code, seconds, said[-2000:])
    assert "BAD TERMINATION" in said and f"RUNNING AT {HOSTS[1]}" in said and "EXIT CODE: 9" in said, said[-2000:]
    for name in ("epoch2.rank0", "epoch2.rank1"):
        (tmp_path / name).unlink()
    code, said, logs, seconds = run_faulty(tmp_path, hosts, "kill", "-disable-auto-cleanup")
    assert code != 0 and "FINISHED" not in said and seconds < ENDS_WITHIN_S, (code, seconds, said[-2000:])
    assert seconds >= TIMEOUT_S - 1  # (the survivor waited for the rank it lost)
    assert all(part in logs[0] for part in lost(0, 1, tmp_path)), logs[0][-2000:]

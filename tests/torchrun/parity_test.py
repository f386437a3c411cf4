"""torchrun 2.11 as the oracle: the same command lines under torchrun and under fabric-run
installed as `torchrun` (tools/install.sh --torchrun) give every worker the same
torchrun-defined variables, or differ only as doc/cli.md lists (env_compare.DOCUMENTED).

Run by parity_test.sh with .venv/bin/python. Real processes on loopback: torchrun's
agents and ours, two agents for the two-node cases. Also installs into a temporary
prefix and runs a two-node job from there, and from a lone copy of the binary.
"""
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

import env_compare

INSTALL = os.environ["FABRIC_INSTALL"]
DUMP = os.environ["FABRIC_DUMP_ENV"]
VENV_BIN = os.path.dirname(sys.executable)
TORCHRUN = os.path.join(VENV_BIN, "torchrun")
TIMEOUT = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra):
    # FABRIC_PRELOAD stays (//tests/torchrun:parity_preload_test): both launchers' workers see
    # it; fabric-run forks its workers from a --preload zygote, torchrun ignores it.
    e = {k: v for k, v in os.environ.items()
         if k == "FABRIC_PRELOAD" or
         not k.startswith(("LT_", "FABRIC_", "SLURM_", "PET_", "TORCHELASTIC_", "KUBERNETES_"))
         and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                       "OMP_NUM_THREADS", "JOB_COMPLETION_INDEX")}
    e["PATH"] = VENV_BIN + os.pathsep + e.get("PATH", "/usr/bin:/bin")
    e.update(extra)
    return e


def launch(launcher, nodes, program=(DUMP,), cwd=None):
    """nodes: [(args, env)] one agent each, started together; returns their joined output."""
    procs = [subprocess.Popen([launcher] + args + list(program), env=clean_env(env), cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for args, env in nodes]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=TIMEOUT)
        if p.returncode != 0:
            for q in procs:
                q.kill()
            raise AssertionError(f"{launcher} exited {p.returncode}:\n{out}")
        if os.environ.get("FABRIC_PRELOAD") and "spawning Python workers normally" in out:
            raise AssertionError(f"{launcher}: --preload fell back:\n{out}")
        outs.append(out)
    return "\n".join(outs)


class Parity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="parity.")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        subprocess.run([INSTALL, "--prefix", cls.prefix, "--torchrun"], check=True,
                       capture_output=True, text=True)
        cls.ours = os.path.join(cls.prefix, "bin", "torchrun")
        cls.fabric_run = os.path.join(cls.prefix, "bin", "fabric-run")
        cls.tables = io.StringIO()

    @classmethod
    def tearDownClass(cls):
        print(cls.tables.getvalue())
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def same(self, label, nodes, ours_nodes=None, ours_launcher=None):
        want = env_compare.parse(launch(TORCHRUN, nodes))
        got = env_compare.parse(launch(ours_launcher or self.ours, ours_nodes or nodes))
        bad = env_compare.compare(label, want, got, out=self.tables)
        self.assertEqual(bad, 0, self.tables.getvalue())
        return want, got

    def test_single_node(self):
        self.same("single", [(["--nproc-per-node", "2"], {})])

    def test_standalone(self):
        self.same("standalone", [(["--standalone", "--nproc-per-node", "2"], {})])

    def test_two_nodes_static(self):
        nodes = lambda p: [(["--nnodes", "2", "--nproc-per-node", "2", "--node-rank", str(r),
                             "--master-addr", "127.0.0.1", "--master-port", str(p)], {})
                           for r in (0, 1)]
        self.same("static", nodes(free_port()), nodes(free_port()))

    def test_two_nodes_c10d(self):
        nodes = lambda p: [(["--nnodes", "2", "--nproc-per-node", "2", "--rdzv-backend", "c10d",
                             "--rdzv-endpoint", f"127.0.0.1:{p}", "--rdzv-id", "job7"], {})
                           for _ in (0, 1)]
        self.same("c10d", nodes(free_port()), nodes(free_port()))

    def test_elastic_range(self):
        nodes = lambda p: [(["--nnodes", "1:2", "--nproc-per-node", "2", "--rdzv-backend", "c10d",
                             "--rdzv-endpoint", f"127.0.0.1:{p}", "--rdzv-id", "el",
                             "--rdzv-conf", "last_call_timeout=5"], {})
                           for _ in (0, 1)]
        self.same("elastic", nodes(free_port()), nodes(free_port()))

    def test_pet_variables(self):
        nodes = lambda p: [([], {"PET_NNODES": "2", "PET_NPROC_PER_NODE": "2",
                                 "PET_NODE_RANK": str(r), "PET_MASTER_ADDR": "127.0.0.1",
                                 "PET_MASTER_PORT": str(p), "PET_MAX_RESTARTS": "1"})
                           for r in (0, 1)]
        self.same("PET_*", nodes(free_port()), nodes(free_port()))

    def test_pytorchjob_pod(self):
        # A Kubeflow PyTorchJob pod's environment (per-pod RANK, WORLD_SIZE counting
        # processes) with the command line its examples use; the pod's RANK/WORLD_SIZE
        # must not reach the workers. fabric-run also runs it with no flags at all.
        def pod(r, p):
            return {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "MASTER_ADDR": "localhost",
                    "MASTER_PORT": str(p), "RANK": str(r), "WORLD_SIZE": "4",
                    "PET_NNODES": "2", "PET_NPROC_PER_NODE": "2", "PET_NODE_RANK": str(r),
                    "PYTHONUNBUFFERED": "0"}
        nodes = lambda p: [(["--master-addr", "localhost", "--master-port", str(p)], pod(r, p))
                           for r in (0, 1)]
        want, got = self.same("PyTorchJob", nodes(free_port()), nodes(free_port()))
        self.assertEqual(sorted(got), [0, 1, 2, 3])
        p = free_port()
        bare = env_compare.parse(launch(self.fabric_run, [([], pod(r, p)) for r in (0, 1)]))
        bad = env_compare.compare("PyTorchJob, no flags", want, bare, out=self.tables)
        self.assertEqual(bad, 0, self.tables.getvalue())

    def test_command_lines_from_project_readmes(self):
        # As a new user would: the torchrun lines of well-known projects, with their
        # training script replaced by the environment dump (same path shapes: a script with
        # its config argument, a module run with -m).
        proj = os.path.join(self.tmp, "proj")
        os.makedirs(os.path.join(proj, "torchtitan"), exist_ok=True)
        shutil.copy(DUMP, os.path.join(proj, "train.py"))
        shutil.copy(DUMP, os.path.join(proj, "torchtitan", "train.py"))
        open(os.path.join(proj, "torchtitan", "__init__.py"), "w").close()
        lines = {
            # nanoGPT: single node
            "nanoGPT": ["--standalone", "--nproc_per_node=2", "train.py", "config/x.py"],
            # torchtitan's run_train.sh
            "torchtitan": ["--nproc_per_node=2", "--rdzv_backend", "c10d",
                           "--rdzv_endpoint=localhost:0", "--local-ranks-filter", "0",
                           "--role", "rank", "--tee", "3", "-m", "torchtitan.train",
                           "--job.config_file", "x.toml"],
            # PyTorch examples, distributed/ddp-tutorial-series and elastic DDP
            "pytorch-examples": ["--nnodes=1", "--nproc_per_node=2", "--rdzv_id=100",
                                 "--rdzv_backend=c10d", "--rdzv_endpoint=localhost:29400",
                                 "train.py", "50", "10"],
        }
        for name, argv in lines.items():
            want = env_compare.parse(launch(TORCHRUN, [(argv, {})], program=(), cwd=proj))
            got = env_compare.parse(launch(self.ours, [(argv, {})], program=(), cwd=proj))
            self.assertEqual(env_compare.compare(name, want, got, out=self.tables), 0,
                             self.tables.getvalue())

    def test_comparison_catches_a_difference(self):
        # Negative control: a run with another world size must be reported.
        want = env_compare.parse(launch(TORCHRUN, [(["--nproc-per-node", "2"], {})]))
        got = env_compare.parse(launch(self.ours, [(["--nproc-per-node", "2",
                                                     "--role", "trainer"], {})]))
        self.assertGreater(env_compare.compare("negative control", want, got, out=io.StringIO()), 0)

    def test_installed_prefix_and_a_lone_copy_run_two_nodes(self):
        # One binary: the installed fabric-run, and a copy of it alone in an empty
        # directory (as a user would scp it), both run a 2-node job.
        lone = os.path.join(self.tmp, "lone")
        os.makedirs(lone)
        shutil.copy(self.fabric_run, lone)
        self.assertEqual(os.listdir(lone), ["fabric-run"])
        for binary in (self.fabric_run, os.path.join(lone, "fabric-run")):
            p = free_port()
            out = launch(binary, [(["--num-nodes", "2", "--devices", "1", "--node-rank",
                                    str(r), "--main-port", str(p)], {}) for r in (0, 1)])
            self.assertEqual(sorted(env_compare.parse(out)), [0, 1], out)

if __name__ == "__main__":
    unittest.main(verbosity=2)

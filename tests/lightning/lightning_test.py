"""Lightning Fabric under fabric-run, side by side with Lightning's own `fabric run`.

Run by lightning_test.sh with .venv/bin/python (torch 2.11, lightning 2.6). Every case
starts real processes: fabric-run agents, Lightning's CLI (torchrun inside), Python
workers importing torch and lightning. OMP_NUM_THREADS=1 everywhere, so that the two
launchers' workers compute with the same thread count and parameters can be compared
bit for bit.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

import torch

FABRIC_RUN = os.environ["FABRIC_RUN"]
SCRIPT = os.environ["FABRIC_TRAIN_SCRIPT"]
CPP_TRAIN = os.environ["CPP_TRAIN"]
VENV_BIN = os.path.dirname(sys.executable)
LIGHTNING_CLI = os.path.join(VENV_BIN, "fabric")
TIMEOUT = 300
LINE = re.compile(
    r"LIGHTNING env=(\w+) world=(\d+) rank=(\d+) local=(\d+) node=(\d+) strategy=(\w+) "
    r"precision=(\w+):([\w-]+) ours=(\S+)/(\S+)/(\S+)/(\S+) slurm=(\S+)")
TRAIN_ARGS = ["--steps", "12", "--accumulate", "2", "--clip", "1.0"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env():
    e = dict(os.environ)
    e["OMP_NUM_THREADS"] = "1"
    e["PATH"] = VENV_BIN + os.pathsep + e.get("PATH", "")
    for k in list(e):  # a test must not inherit a launcher's or an outer job's settings
        # FABRIC_PRELOAD stays: //tests/lightning:lightning_preload_test forks the workers
        # from a --preload zygote.
        if k != "FABRIC_PRELOAD" and k.startswith(("LT_", "FABRIC_", "SLURM_", "PET_")) or k in (
                "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            del e[k]
    return e


def run(argv, expect_rc=0):
    p = subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    if expect_rc is not None and p.returncode != expect_rc:
        raise AssertionError(f"{argv[0]} exited {p.returncode}, want {expect_rc}\n"
                             f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    if os.environ.get("FABRIC_PRELOAD") and "spawning Python workers normally" in p.stderr:
        raise AssertionError(f"--preload fell back:\n{p.stderr}")
    return p


def start(argv):
    return subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(p, what):
    out, err = p.communicate(timeout=TIMEOUT)
    if p.returncode != 0:
        raise AssertionError(f"{what} exited {p.returncode}\n--- stdout\n{out}\n--- stderr\n{err}")
    return out


def lightning_lines(text):
    return [m.groups() for m in LINE.finditer(text)]


def load_params(out_dir, world):
    return [torch.load(os.path.join(out_dir, f"rank{r}.pt")) for r in range(world)]


def assert_identical(test, a, b, what):
    test.assertEqual(len(a), len(b))
    for r, (pa, pb) in enumerate(zip(a, b)):
        test.assertEqual(sorted(pa), sorted(pb))
        for k in pa:
            diff = (pa[k] - pb[k]).abs().max().item()
            test.assertTrue(torch.equal(pa[k], pb[k]), f"{what}: rank {r} {k} differs by {diff}")


class LightningUnderFabricRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        # The reference: Lightning's own CLI, 2 CPU processes, DDP.
        cls.ref_dir = os.path.join(cls.tmp, "ref")
        cls.ref = run([LIGHTNING_CLI, "run", "--accelerator", "cpu", "--devices", "2",
                       "--strategy", "ddp", "--main-port", str(free_port()), SCRIPT,
                       "--out", cls.ref_dir] + TRAIN_ARGS)

    def fabric_run(self, flags, script_args, expect_rc=0):
        return run([FABRIC_RUN] + flags + [SCRIPT] + script_args, expect_rc)

    def test_ddp_ends_with_parameters_identical_to_lightning_cli(self):
        out = os.path.join(self.tmp, "ddp")
        p = self.fabric_run(["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"],
                            ["--out", out] + TRAIN_ARGS)
        lines = lightning_lines(p.stdout)
        self.assertEqual(len(lines), 2, p.stdout)
        for env_name, world, rank, local, node, strategy, _, precision, *ours, slurm in lines:
            # Lightning found our torchrun-compatible environment and agrees with it.
            self.assertEqual(env_name, "TorchElasticEnvironment")
            self.assertEqual(strategy, "DDPStrategy")
            self.assertEqual(precision, "32-true")
            self.assertEqual([rank, local, node, world], ours)
            self.assertEqual(slurm, "none")
        assert_identical(self, load_params(out, 2), load_params(self.ref_dir, 2),
                         "fabric-run vs fabric run")
        # Negative control: the comparison can fail (a different run differs).
        other = os.path.join(self.tmp, "ddp_other")
        self.fabric_run(["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"],
                        ["--out", other, "--steps", "11", "--accumulate", "2", "--clip", "1.0"])
        with self.assertRaises(AssertionError):
            assert_identical(self, load_params(other, 2), load_params(self.ref_dir, 2), "control")

    def test_two_models_two_optimizers_match_lightning_cli(self):
        flags = ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"]
        args = TRAIN_ARGS + ["--two-models"]
        ref = os.path.join(self.tmp, "two_ref")
        run([LIGHTNING_CLI, "run"] + flags + ["--main-port", str(free_port()), SCRIPT,
                                              "--out", ref] + args)
        out = os.path.join(self.tmp, "two")
        self.fabric_run(flags, ["--out", out] + args)
        ours, theirs = load_params(out, 2), load_params(ref, 2)
        self.assertTrue(any(k.startswith("head.") for k in ours[0]))
        assert_identical(self, ours, theirs, "two models: fabric-run vs fabric run")

    def test_program_chooses_strategy_and_precision_when_no_flag_is_given(self):
        out = os.path.join(self.tmp, "chosen")
        p = self.fabric_run(["--devices", "2"],
                            ["--out", out, "--steps", "3", "--strategy", "ddp",
                             "--precision", "bf16-mixed"])
        lines = lightning_lines(p.stdout)
        self.assertEqual(len(lines), 2, p.stdout)
        for line in lines:
            self.assertEqual(line[5], "DDPStrategy")
            self.assertEqual(line[7], "bf16-mixed")

    def test_code_contradicting_a_given_flag_gets_lightnings_own_error(self):
        out = os.path.join(self.tmp, "conflict")
        p = self.fabric_run(["--devices", "2", "--strategy", "ddp"],
                            ["--out", out, "--strategy", "ddp_find_unused_parameters_true"],
                            expect_rc=1)
        self.assertIn("conflicts with the value `--strategy=ddp` set through the CLI", p.stderr)
        self.assertIn("root cause: rank", p.stderr)

    def test_cpp_runtime_follows_the_same_rule(self):
        args = ["--steps", "2", "--d-model", "16", "--seq-len", "8", "--batch-size", "2",
                "--layers", "1", "--log-every", "1"]
        # No --strategy given: the program's own choice stands.
        p = run([FABRIC_RUN, "--devices", "2", CPP_TRAIN, "--strategy", "fsdp"] + args)
        self.assertIn("strategy=fsdp", p.stdout)
        # Given and contradicted: one error naming both values.
        p = run([FABRIC_RUN, "--devices", "2", "--strategy", "ddp", CPP_TRAIN,
                 "--strategy", "fsdp"] + args, expect_rc=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("LT_STRATEGY='ddp'", p.stderr)

    def test_killed_rank_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(self):
        out = os.path.join(self.tmp, "resume")
        ckpt = os.path.join(self.tmp, "resume.ckpt")
        p = self.fabric_run(
            ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--max-restarts", "1",
             "--grace-period", "5s"],
            ["--out", out, "--ckpt", ckpt, "--save-every", "3", "--die-rank", "1",
             "--die-step", "7"] + TRAIN_ARGS)
        self.assertIn("rank 1 dies at step 7", p.stdout)
        self.assertIn("killed by signal SIGKILL", p.stderr)
        self.assertIn("resumed from step 6", p.stdout)
        # fabric.save/fabric.load restored model and optimizer: the end is the same as the
        # uninterrupted reference's, bit for bit.
        assert_identical(self, load_params(out, 2), load_params(self.ref_dir, 2),
                         "resumed vs uninterrupted")
        # Negative control: without restarts the same death ends the job with its signal.
        p = self.fabric_run(
            ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--grace-period", "5s"],
            ["--out", out + "_nr", "--ckpt", ckpt + "_nr", "--die-rank", "1",
             "--die-step", "7"] + TRAIN_ARGS, expect_rc=137)
        self.assertIn("no restarts left", p.stderr)

    def test_two_nodes_through_the_embedded_rendezvous_match_lightning_cli(self):
        out = os.path.join(self.tmp, "nodes")
        port = free_port()
        agents = [start([FABRIC_RUN, "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
                         "--num-nodes", "2", "--node-rank", str(n), "--main-address", "127.0.0.1",
                         "--main-port", str(port), SCRIPT, "--out", out] + TRAIN_ARGS)
                  for n in (0, 1)]
        outs = [finish(a, f"fabric-run node {n}") for n, a in enumerate(agents)]
        lines = lightning_lines("".join(outs))
        self.assertEqual(sorted(int(l[2]) for l in lines), [0, 1, 2, 3])
        for env_name, world, rank, local, node, *_rest in lines:
            self.assertEqual(env_name, "TorchElasticEnvironment")
            self.assertEqual(world, "4")
            self.assertEqual(int(node), int(rank) // 2)
            self.assertEqual(int(local), int(rank) % 2)
            self.assertEqual([rank, local, node, world], _rest[3:7])
        # Lightning's CLI as two nodes on this machine (torchrun's static rendezvous).
        ref = os.path.join(self.tmp, "nodes_ref")
        port = free_port()
        clis = [start([LIGHTNING_CLI, "run", "--accelerator", "cpu", "--devices", "2",
                       "--strategy", "ddp", "--num-nodes", "2", "--node-rank", str(n),
                       "--main-address", "127.0.0.1", "--main-port", str(port), SCRIPT,
                       "--out", ref] + TRAIN_ARGS) for n in (0, 1)]
        for n, c in enumerate(clis):
            finish(c, f"fabric run node {n}")
        assert_identical(self, load_params(out, 4), load_params(ref, 4),
                         "2 nodes: fabric-run vs fabric run")


if __name__ == "__main__":
    unittest.main(verbosity=2)

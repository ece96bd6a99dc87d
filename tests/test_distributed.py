"""Distributed data parallel on CPU: two gloo processes launched by torchrun end with identical weights."""
import os
import subprocess
import sys
import textwrap

import torch

WORKER = textwrap.dedent('''
    import os, sys, torch, torch.distributed as dist
    from torch import nn
    from torch.utils.data import TensorDataset
    import srnlib
    from srnlib import train

    assert train.init_distributed()
    rank = dist.get_rank()
    train.seed_everything(rank)  # different initialisations: DDP must broadcast rank 0's weights

    class Model(nn.Module):  # a set generator + SetRefiner, so the inner create_graph loop runs under DDP
        def __init__(self):
            super().__init__()
            self.generator, self.embed = nn.Linear(4, 3 * 2), nn.Linear(4, 8)
            self.refiner = srnlib.SetRefiner(srnlib.SetEncoder(2, 8, hidden=16), steps=2, lr=0.5)

        def forward(self, x):
            return self.refiner(self.generator(x).view(-1, 3, 2), self.embed(x))

    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 4, generator=generator), torch.randn(64, 3, 2, generator=generator))
    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    step = lambda m, batch: (m(batch[0]) - batch[1]).pow(2).mean()
    history = train.fit(model, optimizer, data, step, epochs=3, batch_size=8, seed=0,
                        checkpoint=os.path.join(sys.argv[1], "model.pt"))
    assert len(history) == 3
    torch.save(model.state_dict(), os.path.join(sys.argv[1], f"rank{rank}.pt"))
    dist.destroy_process_group()
''')


def torchrun(*args, cwd, env):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_two_cpu_ranks_end_with_identical_weights(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1", CUDA_VISIBLE_DEVICES="")
    result = torchrun("worker.py", str(tmp_path), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)  # written once, by rank 0
    assert checkpoint["epoch"] == 3
    for name, value in checkpoint["model"].items():
        assert torch.equal(value, rank0[name]), name


def test_the_command_line_trains_an_experiment_under_torchrun(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1", CUDA_VISIBLE_DEVICES="", SRN_HOME=str(tmp_path))
    result = torchrun("-m", "srnlib.train_cli", "--experiment", "responsibility", "--profile", "smoke",
                      cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = sorted(p.name.split(".")[0] for p in (tmp_path / "checkpoints" / "responsibility").glob("*.pt"))
    assert saved == ["continuous", "iterative"]

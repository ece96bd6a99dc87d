"""The SRN inner loop alone, side by side: the authors' `higher` loop, our autograd loop, our hand-written gradient.

    python benchmarks/bench_inner_loop.py [--repeats 15] [--batch 64] [--steps 10] [--threads 1] [--compile]

Sizes are issue 17's (the authors' Circles setting): batch 64, sets of n = 16 elements of d = 10, z of e = 100,
H_agg a SetEncoder with hidden width 512; 10 inner steps of SGD with lr 0.1 and momentum 0.5. One training step is
the loop's forward and the backward of ``refined.pow(2).sum()`` into S0, z and H_agg's parameters.

Loops, all on the same H_agg, S0 and z:

* ``higher``: what the authors' DSPN does with ``higher.innerloop_ctx`` + ``DifferentiableSGD`` (higher is not
  installed here, so its update is re-implemented: ``torch.autograd.grad(loss, params, create_graph=True)`` of
  the loss summed over the batch, momentum buffer = g on the first step and ``buf * momentum + g`` after,
  ``p - lr * buf``). Unlike their code (copy_initial_weights=True), S0 stays on the tape so that every loop
  returns the same gradients.
* ``autograd``: ``SetRefiner(..., gradient="autograd")``, the loop before the hand-written gradient.
* ``by_hand``: ``SetRefiner`` as it is now (``srnlib/encoder_gradient.py``).
* ``by_hand+compile`` (``--compile``): ``torch.compile`` of the hand-written gradient (one step's graph).

Repeats are interleaved (one of each loop per round) so background load hits all loops alike; the table gives the
median and the ratio to ``higher``, and the largest difference of the refined set and of every gradient. Then
the same for inference (eval mode, no graph): autograd's loop against the hand-written gradient.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import srnlib
from srnlib import encoder_gradient


def higher_loop(encoder, S0, z, steps, lr, momentum):
    """The authors' inner loop as ``higher`` runs it (DifferentiableSGD, summed loss, create_graph=True)."""
    params, buffer = [S0], None
    for _ in range(steps):
        loss = ((encoder(params[0]) - z) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        buffer = grad if buffer is None else buffer.mul(momentum).add(grad, alpha=1)
        params = [params[0].add(buffer, alpha=-lr)]
    return params[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the hand-written gradient")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, d, e, lr, momentum = 16, 10, 100, 0.1, 0.5
    encoder = srnlib.SetEncoder(d, e, hidden=args.hidden)
    S0 = torch.randn(args.batch, n, d, requires_grad=True)
    z = torch.randn(args.batch, e, requires_grad=True)
    autograd_loop = srnlib.SetRefiner(encoder, args.steps, lr, momentum, gradient="autograd")
    by_hand_loop = srnlib.SetRefiner(encoder, args.steps, lr, momentum)
    loops = {
        "higher": lambda: higher_loop(encoder, S0, z, args.steps, lr, momentum),
        "autograd": lambda: autograd_loop(S0, z),
        "by_hand": lambda: by_hand_loop(S0, z),
    }
    if args.compile:
        original = encoder_gradient.InnerGradient.__call__
        compiled = torch.compile(original, dynamic=False)

        def compiled_loop():
            encoder_gradient.InnerGradient.__call__ = compiled
            try:
                return by_hand_loop(S0, z)
            finally:
                encoder_gradient.InnerGradient.__call__ = original
        loops["by_hand+compile"] = compiled_loop

    leaves = {"S0": S0, "z": z, **{f"H_agg.{name}": p for name, p in encoder.named_parameters()}}

    def train_step(loop):
        for leaf in leaves.values():
            leaf.grad = None
        refined = loop()
        refined.pow(2).sum().backward()
        return refined.detach(), {name: leaf.grad.clone() for name, leaf in leaves.items()}

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s), "
          f"torch {torch.__version__}; batch {args.batch}, n={n}, d={d}, e={e}, H_agg hidden {args.hidden}, "
          f"{args.steps} inner steps (lr {lr}, momentum {momentum}), forward + backward")
    outputs = {}
    for name, loop in loops.items():  # warm-up (and compile), and the outputs to compare
        started = time.perf_counter()
        outputs[name] = train_step(loop)
        print(f"  first call of {name}: {time.perf_counter() - started:.1f} s")
    times = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, loop in loops.items():
            started = time.perf_counter()
            train_step(loop)
            times[name].append(time.perf_counter() - started)
    reference_set, reference_grads = outputs["higher"]
    base = statistics.median(times["higher"])
    print(f"\n{'loop':>16} | {'ms / training step':>18} | {'min ms':>7} | {'vs higher':>9} | "
          f"{'max |set diff|':>14} | {'max |grad diff| (which)':>32}")
    for name in loops:
        refined, grads = outputs[name]
        set_diff = (refined - reference_set).abs().max().item()
        grad_diffs = {key: (grads[key] - reference_grads[key]).abs().max().item() for key in grads}
        worst = max(grad_diffs, key=grad_diffs.get)
        median = statistics.median(times[name])
        print(f"{name:>16} | {1000 * median:>18.1f} | {1000 * min(times[name]):>7.1f} | {median / base:>8.2f}x | "
              f"{set_diff:>14.1e} | {grad_diffs[worst]:>14.1e} ({worst})")
    scale = max(g.abs().max().item() for g in reference_grads.values())
    print(f"\n(largest |gradient| {scale:.1e}; {args.repeats} interleaved repeats, median)")

    # Inference: the loop in eval mode builds no graph (higher has no such mode).
    inference = {"autograd": autograd_loop.eval(), "by_hand": by_hand_loop.eval()}
    with torch.no_grad():
        sets = {name: loop(S0, z) for name, loop in inference.items()}
        times = {name: [] for name in inference}
        for _ in range(args.repeats):
            for name, loop in inference.items():
                started = time.perf_counter()
                loop(S0, z)
                times[name].append(time.perf_counter() - started)
    base = statistics.median(times["autograd"])
    difference = (sets["by_hand"] - sets["autograd"]).abs().max().item()
    medians = {name: statistics.median(t) for name, t in times.items()}
    print("inference (eval, no graph): " + ", ".join(
        f"{name} {1000 * median:.1f} ms ({median / base:.2f}x)" for name, median in medians.items())
        + f"; max |set diff| {difference:.1e}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent PyTorch reference for SignRound v1 / SignRoundV2 block tuning.

Written from ../shared/docs/algorithm.md (sections 1.2-1.4, 2.1-2.5, 2.7, 3.4, 3.5)
as a statistical cross-check for the C++ port.  Model: stories260K (HF Llama layout),
fp32 math throughout.  See README.md in this folder.
"""
import argparse
import json
import math
import os
import random
import sys
import re
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

# ../shared beside the repository root, as everywhere in sr2; SHARED_DIR overrides it.
SHARED = os.environ.get(
    "SHARED_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared"))
MODEL_DIR = os.path.join(SHARED, "models", "stories260K")
DATA_DIR = os.path.join(SHARED, "data", "tinystories")
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
FP16_THRESH = float(torch.tensor(1e-5, dtype=torch.float16).float())  # fp16(1e-5)


# ----------------------------------------------------------------------------- loading
def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4").copy()
        elif info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32).copy()
        elif info["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            raise ValueError("unsupported dtype %s" % info["dtype"])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]))
    return out


def load_tokens(name):
    arr = np.fromfile(os.path.join(DATA_DIR, name), dtype="<i4").astype(np.int64)
    return torch.from_numpy(arr)


class Model:
    def __init__(self, model_dir=MODEL_DIR):
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        self.cfg = cfg
        t = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.hidden = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads", self.n_heads)
        self.head_dim = cfg.get("head_dim") or self.hidden // self.n_heads
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta", 10000.0)
        self.n_layers = cfg["num_hidden_layers"]
        self.embed = t["model.embed_tokens.weight"]
        self.lm_head = t.get("lm_head.weight", self.embed)
        self.final_norm = t["model.norm.weight"]
        self.layers = []
        for i in range(self.n_layers):
            p = "model.layers.%d." % i
            L = {
                "ln1": t[p + "input_layernorm.weight"],
                "ln2": t[p + "post_attention_layernorm.weight"],
            }
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                L[n] = t[p + "self_attn." + n + ".weight"]
            for n in ("gate_proj", "up_proj", "down_proj"):
                L[n] = t[p + "mlp." + n + ".weight"]
            self.layers.append(L)
        self._rope = {}

    def rope(self, T):
        if T not in self._rope:
            d = self.head_dim
            inv = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
            pos = torch.arange(T, dtype=torch.int64).float()
            fr = torch.outer(pos, inv)
            emb = torch.cat([fr, fr], dim=-1)
            self._rope[T] = (emb.cos(), emb.sin())
        return self._rope[T]

    def rmsnorm(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def block(self, x, W, act_hook=None):
        """x: [B,T,H]; W: dict with ln1, ln2 and the seven Linear weights.
        act_hook(name, input) is called with each Linear's input (for the imatrix)."""
        B, T, H = x.shape
        nh, nkv, hd = self.n_heads, self.n_kv, self.head_dim
        h = self.rmsnorm(x, W["ln1"])
        if act_hook:
            for n in ("q_proj", "k_proj", "v_proj"):
                act_hook(n, h)
        q = F.linear(h, W["q_proj"]).view(B, T, nh, hd).transpose(1, 2)
        k = F.linear(h, W["k_proj"]).view(B, T, nkv, hd).transpose(1, 2)
        v = F.linear(h, W["v_proj"]).view(B, T, nkv, hd).transpose(1, 2)
        cos, sin = self.rope(T)

        def rot(z):
            z1, z2 = z[..., : hd // 2], z[..., hd // 2:]
            return torch.cat([-z2, z1], dim=-1)

        q = q * cos + rot(q) * sin
        k = k * cos + rot(k) * sin
        rep = nh // nkv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = att.masked_fill(causal, float("-inf")).softmax(-1)
        o = torch.matmul(att, v).transpose(1, 2).reshape(B, T, nh * hd)
        if act_hook:
            act_hook("o_proj", o)
        x = x + F.linear(o, W["o_proj"])
        h = self.rmsnorm(x, W["ln2"])
        if act_hook:
            for n in ("gate_proj", "up_proj"):
                act_hook(n, h)
        m = F.silu(F.linear(h, W["gate_proj"])) * F.linear(h, W["up_proj"])
        if act_hook:
            act_hook("down_proj", m)
        return x + F.linear(m, W["down_proj"])

    def logits(self, tokens, layers=None):
        layers = layers or self.layers
        x = self.embed[tokens]
        for W in layers:
            x = self.block(x, W)
        return F.linear(self.rmsnorm(x, self.final_norm), self.lm_head)


@torch.no_grad()
def eval_ppl(model, layers, chunk=32, window=256):
    toks = load_tokens("eval.tokens.i32")
    nw = toks.numel() // window
    wins = toks[: nw * window].view(nw, window)
    total, count = 0.0, 0
    for i in range(0, nw, chunk):
        w = wins[i: i + chunk]
        lg = model.logits(w, layers)
        nll = F.cross_entropy(lg[:, :-1].reshape(-1, lg.shape[-1]), w[:, 1:].reshape(-1),
                              reduction="sum")
        total += float(nll)
        count += w[:, 1:].numel()
    return math.exp(total / count)


# ----------------------------------------------------------------------------- quantizer
def ste_round(x):
    return x + (torch.round(x) - x).detach()


def ste_fp16(x):
    return x + (x.to(torch.float16).to(torch.float32) - x).detach()


def signed_thresh(s, thr=FP16_THRESH):
    # |s| >= thr keeping the sign; -0 and +0 become +thr.
    return torch.where(s < 0, torch.clamp(s, max=-thr), torch.clamp(s, min=thr))


class QLinear:
    """Fake-quantizer for one Linear weight [out, in], groups of G along the input dim."""

    def __init__(self, w, bits, group, sym, v2, imatrix=None):
        self.w = w
        self.out, self.inp = w.shape
        self.bits, self.sym, self.v2 = bits, sym, v2
        G = group if (group > 0 and self.inp >= group) else self.inp  # spec 1.2 fallback
        self.G = G
        self.ng = -(-self.inp // G)
        self.pad = self.ng * G - self.inp
        wp = F.pad(w, (0, self.pad)) if self.pad else w
        self.wg = wp.reshape(self.out, self.ng, G)
        self.N = 2 ** (bits - 1)
        self.Q = 2 ** bits - 1
        self.V = torch.zeros_like(self.wg, requires_grad=True)
        self.alpha = torch.ones(self.out, self.ng, 1, requires_grad=True)
        self.beta = torch.ones(self.out, self.ng, 1, requires_grad=True)
        self.init_scale = None
        if v2 and sym:
            if imatrix is not None:
                iw = torch.cat([imatrix, torch.full((self.pad,), 1e-5)]) if self.pad else imatrix
                wt = iw.view(1, self.ng, G).expand_as(self.wg)
            else:
                wt = torch.ones_like(self.wg)
            self.init_scale = search_scales(self.wg, wt, bits)

    def params(self):
        # beta is unused (no gradient) for V2 sym layers
        if self.init_scale is not None:
            return [self.V], [self.alpha]
        return [self.V], [self.alpha, self.beta]

    @torch.no_grad()
    def clamp_(self):
        hi = 2.0 if self.init_scale is not None else 1.0
        self.alpha.clamp_(0.0, hi)
        self.beta.clamp_(0.0, 1.0)

    def qdq(self):
        x = self.wg
        if self.sym:
            N = self.N
            if self.init_scale is not None:
                s = ste_fp16(self.init_scale * self.alpha)
            else:
                A = -torch.clamp(x.amin(-1, keepdim=True), max=0.0) * self.beta
                B = torch.clamp(x.amax(-1, keepdim=True), min=0.0) * self.alpha
                maxv = torch.where(B < A, A, -B)
                s = ste_fp16(maxv / N)
            s = signed_thresh(s)
            q = torch.clamp(ste_round(x / s + self.V), -N, N - 1)
            xh = s * q
        else:
            Q = self.Q
            wmin = torch.clamp(x.amin(-1, keepdim=True), max=0.0) * self.beta
            wmax = torch.clamp(x.amax(-1, keepdim=True), min=0.0) * self.alpha
            s = torch.clamp(ste_fp16((wmax - wmin) / Q), min=FP16_THRESH)
            z = ste_round(-wmin / s)
            q = torch.clamp(ste_round(x / s + self.V) + z, 0, Q)
            xh = s * (q - z)
        xh = xh.reshape(self.out, self.ng * self.G)
        return xh[:, : self.inp] if self.pad else xh


@torch.no_grad()
def search_scales(xg, wt, bits):
    """Spec 3.4: weighted search of the symmetric scale per group. xg, wt: [out, ng, G]."""
    N = 2 ** (bits - 1)
    if bits == 2:
        step, K = 0.01, 90
    else:
        step, K = 0.0075 * N, 100
    idx = xg.abs().argmax(-1, keepdim=True)  # first max on ties
    p = torch.gather(xg, -1, idx)

    def err(d):
        s = -p / d
        L = torch.clamp(torch.round(xg / s), -N, N - 1)
        return (wt * (s * L - xg) ** 2).sum(-1, keepdim=True), s

    best_e, best_s = err(float(N))
    for k in range(-K, K + 1):
        e, s = err(N - step * k)
        better = e < best_e
        best_e = torch.where(better, e, best_e)
        best_s = torch.where(better, s, best_s)
    return signed_thresh(best_s)


# ----------------------------------------------------------------------------- tuning
class Sampler:
    def __init__(self, rng, n, bs):
        self.rng, self.n, self.bs = rng, n, bs
        self.order, self.pos = [], 0

    def next(self):
        if self.n - self.pos < self.bs or not self.order:
            self.order = list(range(self.n))
            self.rng.shuffle(self.order)
            self.pos = 0
        b = self.order[self.pos: self.pos + self.bs]
        self.pos += self.bs
        return b


class Mt19937_64:
    """std::mt19937_64, so --sampler cpp draws exactly the batches sr2's BatchSampler draws."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.mt = [seed & self.MASK]
        for i in range(1, 312):
            prev = self.mt[-1]
            self.mt.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & self.MASK)
        self.index = 312

    def __call__(self):
        if self.index >= 312:
            for i in range(312):
                x = (self.mt[i] & 0xFFFFFFFF80000000) | (self.mt[(i + 1) % 312] & 0x7FFFFFFF)
                xa = x >> 1
                if x & 1:
                    xa ^= 0xB5026F5AA96619E9
                self.mt[i] = self.mt[(i + 156) % 312] ^ xa
            self.index = 0
        x = self.mt[self.index]
        self.index += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & self.MASK


class CppSampler:
    """sr2's BatchSampler (worker/quant/block_tuner.cc): seed + block, Fisher-Yates with modulo
    draws on the running order, consecutive batches, reshuffled when fewer than a batch remain."""

    def __init__(self, seed, n, bs):
        self.rng, self.bs = Mt19937_64(seed), bs
        self.order, self.pos = list(range(n)), n

    def next(self):
        if self.pos + self.bs > len(self.order):
            for i in range(len(self.order) - 1, 0, -1):
                j = self.rng() % (i + 1)
                self.order[i], self.order[j] = self.order[j], self.order[i]
            self.pos = 0
        b = self.order[self.pos: self.pos + self.bs]
        self.pos += self.bs
        return b


def block_loss(pred, target, filt, mask_last):
    if mask_last:
        m = torch.ones(pred.shape[1], 1)
        m[-1] = 0.0
        pred = pred * m
        target = target * m
    d = (pred - target).abs()
    if filt:
        k = max(1, d.numel() // 1000)
        with torch.no_grad():
            top = d.reshape(-1).topk(k).indices
            keep = torch.ones(d.numel())
            keep[top] = 0.0
        d = d * keep.view_as(d)
    return (d ** 2).mean()


def run(args):
    torch.manual_seed(args.seed)
    model = Model()
    if args.algorithm == "fp32":
        return eval_ppl(model, model.layers), 0.0
    bits = int(re.match(r"W(\d+)G(\d+)", args.scheme).group(1))
    group = int(re.match(r"W(\d+)G(\d+)", args.scheme).group(2))
    sym = not args.asym
    v2 = args.algorithm == "signroundv2"
    tune = args.algorithm in ("signround", "signroundv2")
    nblocks = model.n_layers if args.blocks_only is None else args.blocks_only
    calib = load_tokens("calib.tokens.i32")[: args.nsamples * args.seqlen].view(args.nsamples, args.seqlen)
    rng = random.Random(args.seed)
    new_layers = [dict(L) for L in model.layers]
    t0 = time.time()
    with torch.no_grad():
        x_fp = model.embed[calib] if tune else None
        x_q = x_fp
    for i in range(nblocks):
        W = model.layers[i]
        imat = None
        y_fp = None
        if tune:
            imat = {n: torch.zeros(W[n].shape[1]) for n in LINEARS}

            def hook(n, a):
                imat[n] += a.pow(2).reshape(-1, a.shape[-1]).sum(0)

            with torch.no_grad():
                y_fp = torch.cat([model.block(x_fp[j: j + 16], W, hook if v2 else None)
                                  for j in range(0, args.nsamples, 16)])
        qls = {n: QLinear(W[n], bits, group, sym, v2, imat[n] if (v2 and imat) else None)
               for n in LINEARS}
        if tune and args.iters > 0:
            vparams, sparams = [], []
            for q in qls.values():
                a, b = q.params()
                vparams += a
                sparams += b
            allp = vparams + sparams
            filt = v2 and sym and bits < 4
            samp = (CppSampler(args.seed + i, args.nsamples, args.batch) if args.sampler == "cpp"
                    else Sampler(rng, args.nsamples, args.batch))
            init_loss, best_iter = None, -1
            best, best_snap = float("inf"), None
            lr = args.lr if args.lr is not None else 1.0 / args.iters
            mlr = lr
            for t in range(args.iters):
                idx = samp.next()
                for q in qls.values():
                    q.clamp_()
                Wq = dict(W)
                for n, q in qls.items():
                    Wq[n] = q.qdq()
                pred = model.block(x_q[idx], Wq)
                loss = block_loss(pred, y_fp[idx], filt, args.mask_last)
                lv = float(loss)
                if t == 0:
                    init_loss = lv
                if lv < best:
                    best, best_iter = lv, t
                    best_snap = [p.detach().clone() for p in allp]
                for p in allp:
                    p.grad = None
                (loss * 1000.0).backward()
                decay = 1.0 - t / args.iters
                with torch.no_grad():
                    for p in vparams:
                        if p.grad is not None:
                            p -= lr * decay * torch.sign(p.grad)
                    for p in sparams:
                        if p.grad is not None:
                            p -= mlr * decay * torch.sign(p.grad)
            with torch.no_grad():
                for p, s in zip(allp, best_snap):
                    p.copy_(s)
            print(f"block {i}: loss {init_loss:.6g} -> {best:.6g} (best iter {best_iter}), "
                  f"{time.time() - t0:.1f} s", file=sys.stderr)
        with torch.no_grad():
            for n, q in qls.items():
                q.clamp_()
                new_layers[i][n] = q.qdq().detach()
            if tune and i + 1 < nblocks:
                x_q = torch.cat([model.block(x_q[j: j + 16], new_layers[i])
                                 for j in range(0, args.nsamples, 16)])
                x_fp = y_fp
    tune_s = time.time() - t0
    return eval_ppl(model, new_layers), tune_s


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scheme", default="W2G32")
    ap.add_argument("--algorithm", default="signround",
                    choices=["fp32", "rtn", "signround", "signroundv2"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--asym", action="store_true")
    ap.add_argument("--mask-last", action="store_true")
    ap.add_argument("--blocks-only", type=int, default=None)
    ap.add_argument("--nsamples", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=None, help="default 1/iters (minmax_lr = lr)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sampler", choices=["python", "cpp"], default="python",
                    help="python: one random.Random(seed) for the run; cpp: sr2's exact batches")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ppl, tune_s = run(args)
    print("ref algorithm=%s scheme=%s seed=%d ppl=%.4f tune_s=%.1f%s%s%s" % (
        args.algorithm, args.scheme, args.seed, ppl, tune_s,
        " asym=1" if args.asym else "", " mask_last=1" if args.mask_last else "",
        (" blocks_only=%d" % args.blocks_only) if args.blocks_only is not None else ""))


if __name__ == "__main__":
    main()

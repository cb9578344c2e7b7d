#!/usr/bin/python3
"""The network of issue 15 written as a PyTorch user would write it, for speed ratios against
`infini train` (bench/compare_pytorch.sh runs both back to back).

Same math as infini's decoder (SPEC section 1): RMSNorm, RoPE on the local attention only,
causal softmax inside each segment, a compressive memory per layer and head read with ELU+1
before its linear or delta update, a per-head sigmoid gate, SwiGLU, untied head; the memory is
carried across the segments of a sequence with autograd through it (no checkpointing), the loss
is the mean cross-entropy, torch.optim.AdamW with the gates in a group without weight decay.
Random tokens, float32. Prints one line: `tokens/s N`."""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--steps", type=int, default=6)
parser.add_argument("--vocab", type=int, default=8000)
parser.add_argument("--hidden", type=int, default=256)
parser.add_argument("--layers", type=int, default=4)
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--ffn", type=int, default=688)
parser.add_argument("--segment", type=int, default=256)
parser.add_argument("--segments", type=int, default=4)
parser.add_argument("--batch", type=int, default=4)
parser.add_argument("--update", choices=["delta", "linear"], default="delta")
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
head_dim = args.hidden // args.heads


def elu_plus_one(x):
    return F.elu(x) + 1.0


class RMSNorm(nn.Module):
    def __init__(self, width, eps=1e-5):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(width)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(length, theta=10000.0):
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)
    angles = torch.cat([angles, angles], -1)
    return angles.cos().float(), angles.sin().float()


COS, SIN = rope_tables(args.segment)
CAUSAL = torch.ones(args.segment, args.segment, dtype=torch.bool).triu(1)


def rope(x):
    first, second = x.chunk(2, -1)
    return x * COS + torch.cat([-second, first], -1) * SIN


class InfiniAttention(nn.Module):
    def __init__(self):
        super().__init__()
        width = args.heads * head_dim
        self.q, self.k, self.v, self.o = (nn.Linear(args.hidden, width, bias=False) for _ in range(4))
        self.gate = nn.Parameter(torch.zeros(args.heads))

    def forward(self, x, memory, normalizer):
        batch, length, _ = x.shape
        split = lambda t: t.view(batch, length, args.heads, head_dim).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = rope(q) @ rope(k).transpose(-2, -1) / math.sqrt(head_dim)
        local = scores.masked_fill(CAUSAL, float("-inf")).softmax(-1) @ v
        sigma_q, sigma_k = elu_plus_one(q), elu_plus_one(k)
        eps = 1e-6
        from_memory = (sigma_q @ memory) / (sigma_q @ normalizer.unsqueeze(-1) + eps)
        if args.update == "delta":
            v = v - (sigma_k @ memory) / (sigma_k @ normalizer.unsqueeze(-1) + eps)
        memory = memory + sigma_k.transpose(-2, -1) @ v
        normalizer = normalizer + sigma_k.sum(-2)
        g = torch.sigmoid(self.gate).view(1, -1, 1, 1)
        mixed = g * from_memory + (1 - g) * local
        return self.o(mixed.transpose(1, 2).reshape(batch, length, -1)), memory, normalizer


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention_norm, self.mlp_norm, self.attention = RMSNorm(args.hidden), RMSNorm(args.hidden), InfiniAttention()
        self.gate_proj = nn.Linear(args.hidden, args.ffn, bias=False)
        self.up_proj = nn.Linear(args.hidden, args.ffn, bias=False)
        self.down_proj = nn.Linear(args.ffn, args.hidden, bias=False)

    def forward(self, x, memory, normalizer):
        attended, memory, normalizer = self.attention(self.attention_norm(x), memory, normalizer)
        x = x + attended
        h = self.mlp_norm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h)), memory, normalizer


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(args.vocab, args.hidden)
        self.layers = nn.ModuleList(Layer() for _ in range(args.layers))
        self.norm = RMSNorm(args.hidden)
        self.head = nn.Linear(args.hidden, args.vocab, bias=False)

    def forward(self, tokens, state):
        x, next_state = self.embed(tokens), []
        for layer, (memory, normalizer) in zip(self.layers, state):
            x, memory, normalizer = layer(x, memory, normalizer)
            next_state.append((memory, normalizer))
        return self.head(self.norm(x)), next_state


model = Decoder()
gates = [p for name, p in model.named_parameters() if name.endswith(".gate")]
others = [p for name, p in model.named_parameters() if not name.endswith(".gate")]
optimizer = torch.optim.AdamW([{"params": others, "weight_decay": 0.1}, {"params": gates, "weight_decay": 0.0}], lr=1e-3)
length = args.segment * args.segments


def step():
    tokens = torch.randint(0, args.vocab, (args.batch, length + 1))
    state = [(torch.zeros(args.batch, args.heads, head_dim, head_dim), torch.zeros(args.batch, args.heads, head_dim))
             for _ in range(args.layers)]
    loss = 0.0
    for start in range(0, length, args.segment):
        logits, state = model(tokens[:, start:start + args.segment], state)
        targets = tokens[:, start + 1:start + args.segment + 1]
        loss = loss + F.cross_entropy(logits.reshape(-1, args.vocab), targets.reshape(-1), reduction="sum")
    optimizer.zero_grad()
    (loss / (args.batch * length)).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


step()  # warm-up: first-touch allocations and kernel selection
start = time.perf_counter()
for _ in range(args.steps):
    step()
print(f"tokens/s {args.steps * args.batch * length / (time.perf_counter() - start):.0f}")

#!/usr/bin/env python3
"""Checks of infini's formats against the libraries themselves (issue 18), for the GPU machine's
Python, which has transformers, safetensors and tensorboard. Called by scripts/gpu_check.sh:

  gpu_interop.py reference DIR TOKENIZER   a random small Llama written by transformers into DIR,
                                           with reference.safetensors: token ids and its logits
                                           (the C++ test HfInterop.* compares ours with them)
  gpu_interop.py export INFINI DIR OUT     DIR imported by `infini convert`, exported with --to-hf
                                           into OUT, loaded by transformers: its logits equal DIR's
  gpu_interop.py tensorboard RUN           RUN/tb read by TensorBoard's own reader: every train
                                           scalar of RUN/metrics.jsonl is there with its value

Each prints one JSON line of what it measured; exit status 1 when a check fails.
"""
import json
import os
import subprocess
import sys

import torch


def reference(directory, tokenizer):
    import sentencepiece
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    vocab = sentencepiece.SentencePieceProcessor(model_file=tokenizer).get_piece_size()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).float().eval()
    with torch.no_grad():  # transformers initialises with std 0.02: make the logits less flat
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(10.0)
    model.save_pretrained(directory, safe_serialization=True)
    with open(tokenizer, "rb") as src, open(os.path.join(directory, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())
    tokens = torch.randint(vocab, (1, 48))
    with torch.no_grad():
        logits = model(tokens).logits.float()
    save_file({"tokens": tokens.contiguous(), "logits": logits.contiguous()},
              os.path.join(directory, "reference.safetensors"))
    return {"vocab": vocab, "tokens": tokens.shape[1], "logit_scale": logits.abs().max().item()}


def export(infini, directory, out):
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    ours = out + "-infini"
    for args in (["convert", "--from", directory, "--to", ours, "--force"],
                 ["convert", "--from", ours, "--to", out, "--to-hf", "--force"]):
        subprocess.run([infini] + args, check=True)
    ref = load_file(os.path.join(directory, "reference.safetensors"))
    model = LlamaForCausalLM.from_pretrained(out, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(ref["tokens"]).logits.float()
    error = (logits - ref["logits"]).abs().max().item()
    scale = ref["logits"].abs().max().item()
    return {"max_abs_difference": error, "logit_scale": scale, "ok": error <= 1e-5 * max(1.0, scale)}


def tensorboard(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    expected = {}
    with open(os.path.join(run, "metrics.jsonl")) as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("phase") == "train":
                expected[record["step"]] = record["loss"]
    events = EventAccumulator(os.path.join(run, "tb"), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()["scalars"]
    loss_tag = next((t for t in tags if t.endswith("loss") and "train" in t), None)
    read = {e.step: e.value for e in events.Scalars(loss_tag)} if loss_tag else {}
    worst = max((abs(read[s] - v) / max(1e-12, abs(v)) for s, v in expected.items() if s in read), default=None)
    ok = bool(expected) and set(expected) <= set(read) and worst is not None and worst < 1e-6
    return {"tags": len(tags), "loss_tag": loss_tag, "steps_expected": len(expected), "steps_read": len(read),
            "max_relative_difference": worst, "ok": ok}


def main():
    command, args = sys.argv[1], sys.argv[2:]
    result = {"reference": reference, "export": export, "tensorboard": tensorboard}[command](*args)
    print(json.dumps({command: result}))
    return 0 if result.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())

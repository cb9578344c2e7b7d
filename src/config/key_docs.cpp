#include "config/key_docs.h"

#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace infini {

const std::vector<std::pair<std::string, std::string>>& run_config_key_docs() {
  static const std::vector<std::pair<std::string, std::string>> docs = {
      {"model", "the decoder: Hugging Face LlamaConfig keys plus infini_attention (written to config.json)"},
      {"model.vocab_size", "tokens in the vocabulary; 0: the tokenizer's size"},
      {"model.hidden_size", "width of the residual stream"},
      {"model.num_hidden_layers", "decoder layers"},
      {"model.num_attention_heads", "query heads per layer"},
      {"model.num_key_value_heads", "key/value heads (GQA), each with its own memory; 0: num_attention_heads"},
      {"model.head_dim", "width of a head; 0: hidden_size / num_attention_heads"},
      {"model.intermediate_size", "width of the SwiGLU MLP"},
      {"model.rms_norm_eps", "epsilon of every RMSNorm"},
      {"model.rope_theta", "RoPE base"},
      {"model.max_position_embeddings", "positions pre-trained with full attention; kept for the HF export"},
      {"model.tie_word_embeddings", "share the input embedding with the output projection"},
      {"model.bos_token_id", "beginning-of-document token; checked against the tokenizer"},
      {"model.eos_token_id", "end-of-document token; checked against the tokenizer"},
      {"model.torch_dtype", "dtype checkpoints are written in: float32 or bfloat16"},
      {"model.infini_attention", "the attention layers (SPEC section 1)"},
      {"model.infini_attention.kind", "infini (segment + compressive memory), local, xl or full"},
      {"model.infini_attention.segment_length", "tokens per segment: local attention's window, memory's step"},
      {"model.infini_attention.memory_update", "linear or delta rule for M after every segment"},
      {"model.infini_attention.memory_eps", "epsilon in the memory read's denominator"},
      {"model.infini_attention.layer_kinds", "one kind per layer instead of `kind` for all; []: every layer `kind`"},
      {"init", "how a fresh run's weights start"},
      {"init.from", "checkpoint to start from (continual pre-training), converted to this model's attention; "
                    "\"\": random initialisation"},
      {"init.gate_init", "every gate's β at the start; unset: 0 in a fresh model, -4 for gates a conversion adds"},
      {"data", "where the documents and the tokenizer are"},
      {"data.tokenizer", "SentencePiece model"},
      {"data.train", "training documents: a shard directory, .txt file, directory of .txt or .jsonl"},
      {"data.validation", "validation documents, as data.train; \"\": no validation"},
      {"data.task", "documents (data.train) or passkey (generated passkey samples)"},
      {"data.passkey_loss", "passkey task: all (every token), key (the key line and the answer) or answer (the answer only)"},
      {"data.passkey_min_segments", "passkey task: fewest segments per sample; 0: the fewest that fit"},
      {"data.passkey_max_segments", "passkey task: most segments per sample; 0: a whole row"},
      {"data.passkey_curriculum_samples", "passkey task: samples over which the longest grows to the most; 0: none"},
      {"data.passkey_key_digits", "passkey task: digits per key, 1 to 9 (the paper's 5)"},
      {"data.passkey_keyless_share", "passkey task: share of samples with no key line (the answer a key nothing names)"},
      {"data.passkey_dilution", "passkey task: each sample's filler segments write to the memory as up to this many segments (1: off)"},
      {"eval", "validation perplexity during training"},
      {"eval.segment_length", "segment length for validation; 0: the model's"},
      {"eval.memory", "carry memory across segments (false: reset each segment, the ablation)"},
      {"eval.bucket_width", "tokens per by-position bucket"},
      {"train", "the training loop"},
      {"train.steps", "optimizer steps"},
      {"train.batch_size", "rows per micro-batch"},
      {"train.sequence_length", "tokens per row and step, a multiple of the segment; 0: 4 segments"},
      {"train.bptt_segments", "cut the gradient through memory every this many segments; 0: never"},
      {"train.carry_memory", "carry each row's memory (detached) into the next step of the same document"},
      {"train.checkpoint_segments", "recompute each segment's activations in backward (flat memory in segments)"},
      {"train.grad_accumulation", "micro-batches per optimizer step"},
      {"train.grad_clip", "clip the global gradient norm to this; 0: off"},
      {"train.optimizer", "AdamW"},
      {"train.optimizer.lr", "peak learning rate"},
      {"train.optimizer.beta1", "AdamW β1"},
      {"train.optimizer.beta2", "AdamW β2"},
      {"train.optimizer.eps", "AdamW ε"},
      {"train.optimizer.weight_decay", "decoupled weight decay of matrices (norms and gates excluded)"},
      {"train.optimizer.gate_lr", "peak learning rate of the gates β (their own group)"},
      {"train.optimizer.gate_weight_decay", "weight decay of the gates β"},
      {"train.schedule", "learning-rate schedule"},
      {"train.schedule.kind", "cosine, linear or constant after warm-up"},
      {"train.schedule.warmup_steps", "steps of linear warm-up from 0"},
      {"train.schedule.min_lr_ratio", "the decay ends at this fraction of the peak"},
      {"train.log_every", "steps between log lines and metrics records"},
      {"train.eval_every", "steps between validations; 0: only at the end"},
      {"train.eval_documents", "validation documents scored; 0: all"},
      {"train.eval_tokens_per_document", "tokens scored per validation document; 0: whole documents"},
      {"train.save_every", "steps between checkpoints; 0: only at the end"},
      {"train.keep_last", "step checkpoints kept (best and final are kept besides)"},
      {"train.max_bad_steps", "stop after this many non-finite steps in a row"},
      {"train.trainable", "all, attention (q/k/v/o and gates) or gates (β only)"},
      {"run", "where and how the run executes"},
      {"run.dir", "run directory: checkpoints, metrics.jsonl, tb/, train.log, config.yaml"},
      {"run.seed", "seed of initialisation and data order"},
      {"run.device", "cpu, cuda or cuda:N"},
      {"run.threads", "CPU threads; 0: one per core (split among local ranks)"},
      {"run.dtype",
       "compute dtype: float32, or bfloat16 autocast (weights and memory stay float32; float32 where bfloat16 "
       "matmuls are the slower)"},
      {"run.deterministic", "deterministic kernels only: on CUDA, bit-identical reruns and resumes (slower); the CPU always is"},
      {"run.resume", "\"\": start fresh; auto: continue the newest checkpoint in run.dir; or a checkpoint directory"},
  };
  return docs;
}

namespace {

std::string flow_text(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

class DocumentedWriter {
 public:
  explicit DocumentedWriter(std::map<std::string, std::string> defaults) : defaults_(std::move(defaults)) {
    for (const auto& [key, meaning] : run_config_key_docs()) docs_[key] = meaning;
  }

  void write(const YAML::Node& map, const std::string& prefix, int depth) {
    const std::string indent(2 * depth, ' ');
    std::map<std::string, bool> seen;
    for (const auto& item : map) {
      const auto key = item.first.as<std::string>();
      const auto path = prefix.empty() ? key : prefix + "." + key;
      seen[path] = true;
      if (item.second.IsMap()) {
        out_ << indent << key << ":" << note(path, false) << "\n";
        write(item.second, path, depth + 1);
      } else {
        out_ << indent << key << ": " << flow_text(item.second) << note(path, true) << "\n";
      }
    }
    // Optional keys the config leaves unset (their absence is their default).
    for (const auto& [path, meaning] : run_config_key_docs()) {
      const auto dot = path.rfind('.');
      const auto parent = dot == std::string::npos ? std::string() : path.substr(0, dot);
      if (parent == prefix && !seen.count(path)) {
        out_ << indent << "# " << path.substr(dot + 1) << ": unset  # " << meaning << "\n";
      }
    }
  }

  std::string text() const { return out_.str(); }

 private:
  std::string note(const std::string& path, bool leaf) const {
    const auto doc = docs_.find(path);
    std::string text = doc == docs_.end() ? "" : doc->second;
    if (leaf) {
      const auto d = defaults_.find(path);
      text += " (default: " + (d == defaults_.end() ? std::string("unset") : d->second) + ")";
    }
    return text.empty() ? "" : "  # " + text;
  }

  std::map<std::string, std::string> defaults_, docs_;
  std::ostringstream out_;
};

}  // namespace

std::string documented_yaml(const RunConfig& config) {
  DocumentedWriter writer(flatten_config(RunConfig{}));
  writer.write(YAML::Load(resolved_yaml(config)), "", 0);
  return writer.text();
}

}  // namespace infini

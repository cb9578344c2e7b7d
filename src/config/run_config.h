// The YAML run config: one typed struct per section, validated once at load.
//
//   model: the decoder (HF LlamaConfig keys + infini_attention), see model/model_config.h
//   data:  where documents and the tokenizer are
//   eval:  how perplexity is measured
//   train: the training loop (steps, batch, BPTT, optimizer, schedule, cadences)
//   run:   seed, device, threads, dtype, output directory, resume
//
// Code below this layer takes these structs, never YAML.
#pragma once

#include <map>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "model/model_config.h"

namespace infini {

enum class TrainTask { Documents, Passkey };
enum class PasskeyLoss { All, Answer };

struct DataSection {
  std::string tokenizer;   // SentencePiece model; empty until a tokenizer exists
  std::string train;       // PATH as `--data` accepts it (task documents)
  std::string validation;  // PATH as `--data` accepts it
  // documents: long documents from `train`; passkey: generated passkey samples packed into
  // rows of train.sequence_length tokens (data/passkey_loader.h), `train` unused.
  TrainTask task = TrainTask::Documents;
  PasskeyLoss passkey_loss = PasskeyLoss::All;  // answer: the loss on the key's tokens only
  int64_t passkey_min_segments = 0;  // segments per passkey sample; 0: the fewest possible
  int64_t passkey_max_segments = 0;  // 0: a whole row
  int64_t passkey_curriculum_samples = 0;  // the longest sample grows to max over these (0: none)
};

struct EvalSection {
  int64_t segment_length = 0;  // 0: the model's own
  bool memory = true;          // false: reset memory at every segment (the ablation)
  int64_t bucket_width = 2048; // tokens per by_position bucket
};

struct OptimizerSection {  // AdamW
  double lr = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  // The gates β get their own group: one scalar per head barely moves at a base learning rate,
  // and decay pulls it back to 0 (sigmoid 0.5), the failure of public ports (PAPER.md).
  double gate_lr = 1e-2;
  double gate_weight_decay = 0.0;
};

enum class ScheduleKind { Cosine, Linear, Constant };

struct ScheduleSection {
  ScheduleKind kind = ScheduleKind::Cosine;
  int64_t warmup_steps = 0;   // linear from 0 to the peak
  double min_lr_ratio = 0.1;  // cosine/linear decay ends at this fraction of the peak
};

enum class Trainable { All, Attention, Gates };

struct TrainSection {
  int64_t steps = 100;
  int64_t batch_size = 1;
  int64_t sequence_length = 0;    // tokens per row and step (a multiple of the segment); 0: 4 segments
  int64_t bptt_segments = 0;      // cut the gradient through memory every this many segments; 0: never
  bool carry_memory = false;      // carry memory (detached) into the next sequence of the same document
  bool checkpoint_segments = true;  // recompute each segment's activations in backward
  int64_t grad_accumulation = 1;
  double grad_clip = 1.0;         // global norm; 0: off
  OptimizerSection optimizer;
  ScheduleSection schedule;
  int64_t log_every = 10;
  int64_t eval_every = 0;         // 0: never (and at the end only when validation data is given)
  int64_t eval_documents = 0;     // 0: every validation document
  int64_t eval_tokens_per_document = 0;  // 0: whole documents
  int64_t save_every = 0;         // 0: only at the end
  int64_t keep_last = 3;
  int64_t max_bad_steps = 5;      // abort after this many non-finite steps in a row
  Trainable trainable = Trainable::All;  // attention: q/k/v/o and gates; gates: β only
};

struct RunSection {
  std::string dir = "runs/default";
  int64_t seed = 0;
  std::string device = "cpu";
  int64_t threads = 0;  // 0: one per core
  torch::ScalarType dtype = torch::kFloat32;  // bfloat16: autocast, float32 master weights and memory
  std::string resume;  // "": start fresh; "auto": the newest checkpoint in dir; else a checkpoint
};

struct RunConfig {
  ModelConfig model;
  DataSection data;
  EvalSection eval;
  TrainSection train;
  RunSection run;
};

// Reads `path`, applies each "key.path=value" override, validates everything.
// Throws InputError naming the file, the key path and what was expected.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
std::string resolved_yaml(const RunConfig& config);
// Reads a resolved_yaml() text back (a training checkpoint's copy of its config).
RunConfig parse_resolved_yaml(const std::string& text, const std::string& origin);

// Every leaf of the resolved config as "key.path" -> value text, for comparing two configs.
std::map<std::string, std::string> flatten_config(const RunConfig& config);

// `base` with "model.key.path=value" overrides applied and validated (what `infini convert --set`
// takes); throws InputError naming `origin` for other keys or bad values.
ModelConfig override_model_config(const ModelConfig& base, const std::vector<std::string>& overrides,
                                  const std::string& origin);

// Fills the vocabulary size and special ids from the tokenizer; throws InputError naming
// `origin` when the config disagrees with it.
class Tokenizer;
void bind_tokenizer(ModelConfig& model, const Tokenizer& tokenizer, const std::string& origin);

}  // namespace infini

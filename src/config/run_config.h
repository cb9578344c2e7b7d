// The YAML run config: one typed struct per section, validated once at load.
//
//   model: the decoder (HF LlamaConfig keys + infini_attention), see model/model_config.h
//   init:  how a fresh run's weights start (from another checkpoint, gate β)
//   data:  where documents and the tokenizer are
//   eval:  how validation perplexity is measured during training
//   train: the training loop (steps, batch, BPTT, optimizer, schedule, cadences)
//   run:   seed, device, threads, dtype, output directory, resume
//
// Code below this layer takes these structs, never YAML. Loading reads no checkpoint: with
// init.from, the model section is completed from that checkpoint's config.json where a fresh run
// starts (train/initial_model.h), or from the resumed checkpoint's model (complete_model).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "model/model_config.h"

namespace infini {

enum class TrainTask { Documents, Passkey };
inline const Choices<TrainTask> kTrainTaskNames = {{"documents", TrainTask::Documents}, {"passkey", TrainTask::Passkey}};
enum class PasskeyLoss { All, Key, Answer };
inline const Choices<PasskeyLoss> kPasskeyLossNames = {
    {"all", PasskeyLoss::All}, {"key", PasskeyLoss::Key}, {"answer", PasskeyLoss::Answer}};

struct InitSection {
  // Continual pre-training: start from this checkpoint's weights, converted to this config's
  // attention (model/convert.h); its config.json gives every model key the run config does not.
  std::string from;
  // Every gate's β at the start. Unset: 0 (sigmoid 0.5) in a fresh model, kConvertedGateInit for
  // the gates a conversion creates, the source's own where it has them.
  std::optional<double> gate_init;
};

struct DataSection {
  std::string tokenizer;   // SentencePiece model; empty until a tokenizer exists
  std::string train;       // PATH as `--data` accepts it (task documents)
  std::string validation;  // PATH as `--data` accepts it
  // documents: long documents from `train`; passkey: generated passkey samples packed into
  // rows of train.sequence_length tokens (data/passkey_loader.h), `train` unused.
  TrainTask task = TrainTask::Documents;
  // all: the loss on every token; key: on the key line and the answer; answer: on the answer only
  PasskeyLoss passkey_loss = PasskeyLoss::All;
  int64_t passkey_min_segments = 0;  // segments per passkey sample; 0: the fewest possible
  int64_t passkey_max_segments = 0;  // 0: a whole row
  int64_t passkey_curriculum_samples = 0;  // the longest sample grows to max over these (0: none)
  int64_t passkey_key_digits = 5;  // digits per key (data/passkey.h)
  double passkey_keyless_share = 0.0;  // samples with no key line (data/passkey_loader.h)
  double passkey_dilution = 1.0;  // filler writes count up to this many times (data/passkey_loader.h)
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
inline const Choices<ScheduleKind> kScheduleKindNames = {
    {"cosine", ScheduleKind::Cosine}, {"linear", ScheduleKind::Linear}, {"constant", ScheduleKind::Constant}};

struct ScheduleSection {
  ScheduleKind kind = ScheduleKind::Cosine;
  int64_t warmup_steps = 0;   // linear from 0 to the peak
  double min_lr_ratio = 0.1;  // cosine/linear decay ends at this fraction of the peak
};

enum class Trainable { All, Attention, Gates };
inline const Choices<Trainable> kTrainableNames = {
    {"all", Trainable::All}, {"attention", Trainable::Attention}, {"gates", Trainable::Gates}};

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

// run.resume: "" starts fresh, "auto" continues the newest checkpoint in run.dir (or starts
// fresh when there is none), anything else is a checkpoint directory to continue.
struct ResumeFrom {
  enum class Mode { Fresh, Auto, Checkpoint } mode = Mode::Fresh;
  std::string checkpoint;  // Mode::Checkpoint

  static ResumeFrom parse(const std::string& text);
  std::string text() const;
};

struct RunSection {
  std::string dir = "runs/default";
  int64_t seed = 0;
  torch::Device device = torch::kCPU;  // checked against this machine where the run starts
  int64_t threads = 0;  // 0: one per core
  torch::ScalarType dtype = torch::kFloat32;  // bfloat16: autocast, float32 master weights and memory
  bool deterministic = false;  // deterministic kernels only (CUDA): bit-identical reruns and resumes
  ResumeFrom resume;
};

struct RunConfig {
  ModelConfig model;
  InitSection init;
  DataSection data;
  EvalSection eval;
  TrainSection train;
  RunSection run;
  // With init.from: the model keys the file gave ("model.key.path=value"), which override the
  // base that complete_model() is given; `model` is not usable until then.
  std::vector<std::string> model_given;
  bool model_complete = true;
};

// Reads `path`, applies each "key.path=value" override, validates everything.
// Throws InputError naming the file, the key path and what was expected.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
std::string resolved_yaml(const RunConfig& config);
// Reads a resolved_yaml() text back (a training checkpoint's copy of its config).
RunConfig parse_resolved_yaml(const std::string& text, const std::string& origin);

// Every leaf of the resolved config as "key.path" -> value text, for comparing two configs.
std::map<std::string, std::string> flatten_config(const RunConfig& config);

// Sets config.model to `base` with config.model_given applied, then checks what depends on the
// model (sequence length, carry_memory); `origin` names the run config in messages.
void complete_model(RunConfig& config, const ModelConfig& base, const std::string& origin);

// `base` with "model.key.path=value" overrides applied and validated (what `infini convert --set`
// takes); throws InputError naming `origin` for other keys or bad values.
ModelConfig override_model_config(const ModelConfig& base, const std::vector<std::string>& overrides,
                                  const std::string& origin);

// Fills the vocabulary size and special ids from the tokenizer; throws InputError naming
// `origin` when the config disagrees with it.
class Tokenizer;
void bind_tokenizer(ModelConfig& model, const Tokenizer& tokenizer, const std::string& origin);

}  // namespace infini

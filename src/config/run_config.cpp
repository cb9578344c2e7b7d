#include "config/run_config.h"

#include <filesystem>

#include "config/fields.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"

namespace infini {

namespace {

const Choices<AttentionKind> kAttentionKinds = {{"infini", AttentionKind::Infini},
                                                {"local", AttentionKind::Local},
                                                {"xl", AttentionKind::Xl},
                                                {"full", AttentionKind::Full}};
const Choices<MemoryUpdate> kMemoryUpdates = {{"linear", MemoryUpdate::Linear}, {"delta", MemoryUpdate::Delta}};
const Choices<torch::ScalarType> kDtypes = {{"float32", torch::kFloat32}, {"bfloat16", torch::kBFloat16}};
const Choices<ScheduleKind> kSchedules = {
    {"cosine", ScheduleKind::Cosine}, {"linear", ScheduleKind::Linear}, {"constant", ScheduleKind::Constant}};
const Choices<Trainable> kTrainables = {
    {"all", Trainable::All}, {"attention", Trainable::Attention}, {"gates", Trainable::Gates}};
const Choices<TrainTask> kTasks = {{"documents", TrainTask::Documents}, {"passkey", TrainTask::Passkey}};
const Choices<PasskeyLoss> kPasskeyLosses = {{"all", PasskeyLoss::All}, {"answer", PasskeyLoss::Answer}};
const Choices<std::string> kStorageDtypes = {{"float32", "float32"}, {"bfloat16", "bfloat16"}};

}  // namespace

template <class F>
void fields(F& f, InfiniAttentionConfig& c) {
  f.choice("kind", c.kind, kAttentionKinds);
  f("segment_length", c.segment_length, at_least(1));
  f.choice("memory_update", c.memory_update, kMemoryUpdates);
  f("memory_eps", c.memory_eps, between(1e-30, 1.0));
  f.choice_list("layer_kinds", c.layer_kinds, kAttentionKinds);
  f("gate_init", c.gate_init, between(-1e4, 1e4));
}

template <class F>
void fields(F& f, ModelConfig& c) {
  f("vocab_size", c.vocab_size, at_least(0));  // 0: the tokenizer's size
  f("hidden_size", c.hidden_size, required_at_least(1));
  f("num_hidden_layers", c.num_hidden_layers, required_at_least(1));
  f("num_attention_heads", c.num_attention_heads, required_at_least(1));
  f("num_key_value_heads", c.num_key_value_heads, at_least(1));
  f("head_dim", c.head_dim, at_least(0));
  f("intermediate_size", c.intermediate_size, at_least(1));
  f("rms_norm_eps", c.rms_norm_eps, between(0.0, 1.0));
  f("rope_theta", c.rope_theta, at_least(1.0));
  f("tie_word_embeddings", c.tie_word_embeddings);
  f("bos_token_id", c.bos_token_id, at_least(0));
  f("eos_token_id", c.eos_token_id, at_least(0));
  f.choice("torch_dtype", c.torch_dtype, kStorageDtypes);
  f.section("infini_attention", c.attention);
  f("init_from", c.init_from);
}

template <class F>
void fields(F& f, DataSection& c) {
  f("tokenizer", c.tokenizer);
  f("train", c.train);
  f("validation", c.validation);
  f.choice("task", c.task, kTasks);
  f.choice("passkey_loss", c.passkey_loss, kPasskeyLosses);
  f("passkey_min_segments", c.passkey_min_segments, at_least(0));
  f("passkey_max_segments", c.passkey_max_segments, at_least(0));
  f("passkey_curriculum_samples", c.passkey_curriculum_samples, at_least(0));
}

template <class F>
void fields(F& f, EvalSection& c) {
  f("segment_length", c.segment_length, at_least(0));
  f("memory", c.memory);
  f("bucket_width", c.bucket_width, at_least(1));
}

template <class F>
void fields(F& f, OptimizerSection& c) {
  f("lr", c.lr, between(0.0, 10.0));
  f("beta1", c.beta1, between(0.0, 0.999999));
  f("beta2", c.beta2, between(0.0, 0.999999));
  f("eps", c.eps, between(1e-30, 1.0));
  f("weight_decay", c.weight_decay, between(0.0, 10.0));
  f("gate_lr", c.gate_lr, between(0.0, 10.0));
  f("gate_weight_decay", c.gate_weight_decay, between(0.0, 10.0));
}

template <class F>
void fields(F& f, ScheduleSection& c) {
  f.choice("kind", c.kind, kSchedules);
  f("warmup_steps", c.warmup_steps, at_least(0));
  f("min_lr_ratio", c.min_lr_ratio, between(0.0, 1.0));
}

template <class F>
void fields(F& f, TrainSection& c) {
  f("steps", c.steps, at_least(1));
  f("batch_size", c.batch_size, at_least(1));
  f("sequence_length", c.sequence_length, at_least(0));
  f("bptt_segments", c.bptt_segments, at_least(0));
  f("carry_memory", c.carry_memory);
  f("checkpoint_segments", c.checkpoint_segments);
  f("grad_accumulation", c.grad_accumulation, at_least(1));
  f("grad_clip", c.grad_clip, at_least(0.0));
  f.section("optimizer", c.optimizer);
  f.section("schedule", c.schedule);
  f("log_every", c.log_every, at_least(1));
  f("eval_every", c.eval_every, at_least(0));
  f("eval_documents", c.eval_documents, at_least(0));
  f("eval_tokens_per_document", c.eval_tokens_per_document, at_least(0));
  f("save_every", c.save_every, at_least(0));
  f("keep_last", c.keep_last, at_least(1));
  f("max_bad_steps", c.max_bad_steps, at_least(1));
  f.choice("trainable", c.trainable, kTrainables);
}

template <class F>
void fields(F& f, RunSection& c) {
  f("dir", c.dir);
  f("seed", c.seed, at_least(0));
  f("device", c.device);
  f("threads", c.threads, between(0, 1024));
  f.choice("dtype", c.dtype, kDtypes);
  f("resume", c.resume);
}

template <class F>
void fields(F& f, RunConfig& c) {
  f.section("model", c.model, required_key());
  f.section("data", c.data);
  f.section("eval", c.eval);
  f.section("train", c.train);
  f.section("run", c.run);
}

namespace {

// Cross-key rules that no single field can check.
void validate_train(const RunConfig& config, const std::string& origin) {
  const auto& train = config.train;
  const int64_t segment = config.model.attention.segment_length;
  if (train.sequence_length % segment != 0) {
    throw InputError(origin + ": train.sequence_length: expected a multiple of model.infini_attention.segment_length (" +
                     std::to_string(segment) + "), got " + std::to_string(train.sequence_length));
  }
  if (train.carry_memory) {
    for (int64_t layer = 0; layer < config.model.num_hidden_layers; ++layer) {
      const auto kind = config.model.layer_kind(layer);
      if (kind == AttentionKind::Xl || kind == AttentionKind::Full) {
        throw InputError(origin + ": train.carry_memory: needs infini or local layers (an xl/full cache cannot be "
                         "carried row by row); layer " + std::to_string(layer) + " is " + attention_kind_name(kind));
      }
    }
  }
}

YAML::Node model_to_yaml(const ModelConfig& model) {
  YAML::Node node(YAML::NodeType::Map);
  FieldWriter writer(node);
  ModelConfig copy = model;
  fields(writer, copy);
  return node;
}

// With model.init_from, the checkpoint's config.json supplies the model; the keys the run config
// gives (an attention kind, a segment length...) override it.
void merge_init_from(YAML::Node& root, const std::string& origin) {
  YAML::Node model = root["model"];
  if (!model.IsMap() || !model["init_from"] || !model["init_from"].IsScalar()) return;
  const auto dir = model["init_from"].as<std::string>();
  if (dir.empty()) return;
  ModelConfig base;
  try {
    base = read_model_config(dir);
  } catch (const InputError& e) {
    throw InputError(origin + ": model.init_from: " + e.what());
  }
  YAML::Node merged = model_to_yaml(base);
  for (const auto& item : model) {
    const auto key = item.first.as<std::string>();
    if (item.second.IsMap() && merged[key] && merged[key].IsMap()) {
      YAML::Node inner = merged[key];
      for (const auto& sub : item.second) inner[sub.first.as<std::string>()] = sub.second;
    } else {
      merged[key] = item.second;
    }
  }
  root["model"] = merged;
}

RunConfig read_run_config(YAML::Node root, const std::string& origin) {
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw InputError(origin + ": expected a mapping of sections at the top level");
  merge_init_from(root, origin);
  RunConfig config;
  // num_key_value_heads defaults to num_attention_heads, as in HF's LlamaConfig.
  config.model.num_key_value_heads = 0;
  FieldReader reader(root, "", origin);
  fields(reader, config);
  reader.finish();
  if (config.model.num_key_value_heads == 0) config.model.num_key_value_heads = config.model.num_attention_heads;
  ModelConfig checked = config.model;
  if (checked.vocab_size == 0) checked.vocab_size = 1;  // filled from the tokenizer later
  checked.validate(origin + ": model");
  if (config.train.sequence_length == 0) config.train.sequence_length = 4 * config.model.attention.segment_length;
  validate_train(config, origin);
  return config;
}

}  // namespace

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (!std::filesystem::is_regular_file(path)) throw InputError(path + ": no such config file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw InputError(path + ": not valid YAML (" + e.what() + ")");
  }
  if (!root.IsNull() && !root.IsMap()) throw InputError(path + ": expected a mapping of sections at the top level");
  for (const auto& assignment : overrides) apply_override(root, assignment);
  return read_run_config(root, path);
}

RunConfig parse_resolved_yaml(const std::string& text, const std::string& origin) {
  try {
    return read_run_config(YAML::Load(text), origin);
  } catch (const YAML::Exception& e) {
    throw InputError(origin + ": not valid YAML (" + e.what() + ")");
  }
}

std::string resolved_yaml(const RunConfig& config) {
  YAML::Node root(YAML::NodeType::Map);
  FieldWriter writer(root);
  RunConfig copy = config;
  fields(writer, copy);
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace infini

namespace infini {

namespace {

void flatten_node(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      const auto key = item.first.as<std::string>();
      flatten_node(item.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  YAML::Emitter text;
  text << YAML::Flow << node;
  out[prefix] = text.c_str();
}

}  // namespace

std::map<std::string, std::string> flatten_config(const RunConfig& config) {
  std::map<std::string, std::string> out;
  flatten_node(YAML::Load(resolved_yaml(config)), "", out);
  return out;
}

ModelConfig override_model_config(const ModelConfig& base, const std::vector<std::string>& overrides,
                                  const std::string& origin) {
  YAML::Node root(YAML::NodeType::Map);
  root["model"] = model_to_yaml(base);
  for (const auto& assignment : overrides) {
    if (assignment.rfind("model.", 0) != 0) {
      throw InputError(origin + ": --set " + assignment + ": only model.* keys describe a checkpoint");
    }
    apply_override(root, assignment);
  }
  ModelConfig out;
  FieldReader reader(root["model"], "model", origin);
  fields(reader, out);
  reader.finish();
  out.validate(origin + ": model");
  return out;
}

void bind_tokenizer(ModelConfig& model, const Tokenizer& tokenizer, const std::string& origin) {
  if (model.vocab_size == 0) model.vocab_size = tokenizer.vocab_size();
  if (model.vocab_size != tokenizer.vocab_size()) {
    throw InputError(origin + ": model.vocab_size is " + std::to_string(model.vocab_size) + " but the tokenizer has " +
                     std::to_string(tokenizer.vocab_size()) + " pieces");
  }
  model.bos_token_id = tokenizer.bos_id();
  model.eos_token_id = tokenizer.eos_id();
  model.validate(origin + ": model");
}

}  // namespace infini

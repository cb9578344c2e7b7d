#include "config/run_config.h"

#include <filesystem>

#include "config/fields.h"
#include "core/runtime.h"
#include "data/tokenizer.h"

namespace infini {

ResumeFrom ResumeFrom::parse(const std::string& text) {
  if (text.empty()) return {};
  if (text == "auto") return {Mode::Auto, ""};
  return {Mode::Checkpoint, text};
}

std::string ResumeFrom::text() const {
  switch (mode) {
    case Mode::Fresh: return "";
    case Mode::Auto: return "auto";
    case Mode::Checkpoint: return checkpoint;
  }
  return "";
}

template <class F>
void fields(F& f, InitSection& c) {
  f("from", c.from);
  f("gate_init", c.gate_init, between(-1e4, 1e4));
}

template <class F>
void fields(F& f, DataSection& c) {
  f("tokenizer", c.tokenizer);
  f("train", c.train);
  f("validation", c.validation);
  f.choice("task", c.task, kTrainTaskNames);
  f.choice("passkey_loss", c.passkey_loss, kPasskeyLossNames);
  f("passkey_min_segments", c.passkey_min_segments, at_least(0));
  f("passkey_max_segments", c.passkey_max_segments, at_least(0));
  f("passkey_curriculum_samples", c.passkey_curriculum_samples, at_least(0));
  f("passkey_key_digits", c.passkey_key_digits, between(1, 9));
  f("passkey_keyless_share", c.passkey_keyless_share, between(0.0, 0.99));
  f("passkey_dilution", c.passkey_dilution, between(1.0, 1.0e9));
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
  f.choice("kind", c.kind, kScheduleKindNames);
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
  f.choice("trainable", c.trainable, kTrainableNames);
}

template <class F>
void fields(F& f, RunSection& c) {
  f("dir", c.dir);
  f("seed", c.seed, at_least(0));
  f.parsed("device", c.device, device_named, device_text);
  f("threads", c.threads, between(0, 1024));
  f.choice("dtype", c.dtype, kComputeDtypeNames);
  f("deterministic", c.deterministic);
  f.parsed("resume", c.resume, ResumeFrom::parse, [](const ResumeFrom& r) { return r.text(); });
}

template <class F>
void fields(F& f, RunConfig& c) {
  f.section("model", c.model, required_key());
  f.section("init", c.init);
  f.section("data", c.data);
  f.section("eval", c.eval);
  f.section("train", c.train);
  f.section("run", c.run);
}

namespace {

// Cross-key rules that no single field can check, and the defaults that depend on the model.
void finish_train(RunConfig& config, const std::string& origin) {
  auto& train = config.train;
  const int64_t segment = config.model.attention.segment_length;
  if (train.sequence_length == 0) train.sequence_length = 4 * segment;
  if (train.sequence_length % segment != 0) {
    throw InputError(origin + ": train.sequence_length: expected a multiple of model.infini_attention.segment_length (" +
                     std::to_string(segment) + "), got " + std::to_string(train.sequence_length));
  }
  if (train.carry_memory && config.model.has_cache_layers()) {
    throw InputError(origin + ": train.carry_memory: needs infini or local layers (an xl/full cache cannot be "
                     "carried row by row)");
  }
}

YAML::Node model_to_yaml(const ModelConfig& model) {
  YAML::Node node(YAML::NodeType::Map);
  FieldWriter writer(node);
  ModelConfig copy = model;
  fields(writer, copy);
  return node;
}

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

// Configs written before the init section put its keys under model; they are read where they
// now live.
void move_legacy_init_keys(YAML::Node& root) {
  YAML::Node model = root["model"];
  if (!model.IsMap()) return;
  auto move = [&](YAML::Node parent, const char* old_key, const char* new_key) {
    if (!parent.IsMap() || !parent[old_key]) return;
    if (!root["init"]) root["init"] = YAML::Node(YAML::NodeType::Map);
    YAML::Node init = root["init"];
    if (init.IsMap() && !init[new_key]) init[new_key] = parent[old_key];
    parent.remove(old_key);
  };
  move(model, "init_from", "from");
  move(model["infini_attention"], "gate_init", "gate_init");
}

// `resolved`: a config written by resolved_yaml(), whose model section is whole even with
// init.from.
RunConfig read_run_config(YAML::Node root, const std::string& origin, bool resolved) {
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw InputError(origin + ": expected a mapping of sections at the top level");
  move_legacy_init_keys(root);
  const YAML::Node init = root["init"];
  const bool from_checkpoint = !resolved && init.IsMap() && init["from"] && init["from"].IsScalar() &&
                               !init["from"].Scalar().empty();
  RunConfig config;
  FieldReader reader(root, "", origin, from_checkpoint);
  fields(reader, config);
  reader.finish();
  if (from_checkpoint) {
    std::map<std::string, std::string> given;
    if (root["model"]) flatten_node(root["model"], "model", given);
    for (const auto& [key, value] : given) config.model_given.push_back(key + "=" + value);
    config.model_complete = false;
    return config;
  }
  config.model.resolve_defaults();
  ModelConfig checked = config.model;
  if (checked.vocab_size == 0) checked.vocab_size = 1;  // filled from the tokenizer later
  checked.validate(origin + ": model");
  finish_train(config, origin);
  return config;
}

}  // namespace

void complete_model(RunConfig& config, const ModelConfig& base, const std::string& origin) {
  config.model = override_model_config(base, config.model_given, origin);
  config.model_complete = true;
  finish_train(config, origin);
}

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
  return read_run_config(root, path, false);
}

RunConfig parse_resolved_yaml(const std::string& text, const std::string& origin) {
  try {
    return read_run_config(YAML::Load(text), origin, true);
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
  out.resolve_defaults();
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

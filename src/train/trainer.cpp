#include "train/trainer.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "core/autocast.h"
#include "core/errors.h"
#include "core/files.h"
#include "core/runtime.h"
#include "core/system.h"
#include "data/tokenizer.h"
#include "eval/gates.h"
#include "eval/perplexity.h"
#include "model/checkpoint.h"
#include "model/convert.h"
#include "model/flops.h"
#include "model/memory_need.h"
#include "train/lr_schedule.h"

namespace infini {

namespace fs = std::filesystem;

namespace {

const std::set<std::string> kMayChange = {
    "train.steps",        "train.log_every",  "train.eval_every", "train.eval_documents",
    "train.eval_tokens_per_document", "train.save_every", "train.keep_last", "train.max_bad_steps",
    "run.resume",         "run.dir",          "run.threads",      "run.device",
    "data.validation",    "eval.segment_length", "eval.memory",   "eval.bucket_width"};

std::string config_hash(const RunConfig& config) {
  std::string fixed;
  for (const auto& [key, value] : flatten_config(config)) {
    if (!may_change_on_resume(key)) fixed += key + "=" + value + "\n";
  }
  return fingerprint(fixed);
}

bool is_gate(const std::string& name) {
  const std::string suffix = ".self_attn.gate";
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_trainable(const std::string& name, Trainable trainable) {
  switch (trainable) {
    case Trainable::All: return true;
    case Trainable::Attention: return name.find(".self_attn.") != std::string::npos;
    case Trainable::Gates: return is_gate(name);
  }
  return true;
}

std::string human(double value) {
  char text[32];
  if (value >= 1e6) {
    std::snprintf(text, sizeof text, "%.2fM", value / 1e6);
  } else if (value >= 1e3) {
    std::snprintf(text, sizeof text, "%.1fK", value / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.0f", value);
  }
  return text;
}

}  // namespace

bool may_change_on_resume(const std::string& key) { return kMayChange.count(key) > 0; }

Trainer::Trainer(RunConfig config, TrainerOptions options, std::shared_ptr<Communicator> communicator)
    : config_(std::move(config)),
      options_(std::move(options)),
      comm_(std::move(communicator)),
      device_(parse_device(config_.run.device)) {
  const auto& origin = options_.config_origin;
  set_threads(static_cast<int>(config_.run.threads));
  torch::manual_seed(static_cast<uint64_t>(config_.run.seed));
  if (config_.data.tokenizer.empty() && !config_.model.init_from.empty()) {
    config_.data.tokenizer = tokenizer_path(config_.model.init_from);  // the weights' own tokenizer
  }
  if (config_.data.tokenizer.empty()) throw InputError(origin + ": data.tokenizer: needed to train");
  tokenizer_ = config_.data.tokenizer;
  Tokenizer tokenizer(tokenizer_);
  bind_tokenizer(config_.model, tokenizer, origin);
  // Training checkpoints keep the float32 master weights whatever the export dtype.
  config_.model.torch_dtype = "float32";

  if (config_.train.carry_memory && comm_->world_size() > 1) {
    throw InputError(origin + ": train.carry_memory: not supported with several ranks yet (each rank's carried "
                     "memory would need its own checkpoint file)");
  }
  const std::string run_dir = config_.run.dir;
  fs::create_directories(run_dir);
  if (comm_->is_main()) {
    for (const auto& stale : remove_stale_staging(checkpoints_dir())) {
      spdlog::info("removed {}: a checkpoint save killed mid-way", stale);
    }
  }

  // Which checkpoint to continue, if any.
  std::string resume = options_.resume.empty() ? config_.run.resume : options_.resume;
  if (resume == "auto") {
    resume = latest_checkpoint(checkpoints_dir());
    if (resume.empty()) spdlog::info("run.resume auto: no checkpoint in {}, starting fresh", checkpoints_dir());
  }
  if (!resume.empty() && !fs::is_directory(resume)) throw InputError(resume + ": no such checkpoint directory");
  if (resume.empty()) claim_run_dir(run_dir, options_.replace_run, comm_->is_main());

  data_ = open_training_data(config_, *comm_, origin);
  const int64_t segment = config_.model.attention.segment_length;
  bptt_ = {segment, config_.train.bptt_segments, config_.train.checkpoint_segments};

  if (!config_.data.validation.empty()) validation_ = open_corpus(config_.data.validation, tokenizer_);

  require_memory(training_bytes(config_.model, config_.train.batch_size, config_.train.sequence_length,
                                config_.train.checkpoint_segments),
                 device_, fmt::format("training {:.3g} parameters on {} rows of {} tokens", parameter_count(config_.model),
                                      config_.train.batch_size, config_.train.sequence_length));
  if (resume.empty()) {
    if (config_.model.init_from.empty()) {
      model_ = Decoder(config_.model);
      model_->initialise(static_cast<uint64_t>(config_.run.seed));
    } else {
      // Continual pre-training: the checkpoint's weights under this config's attention.
      Decoder source = load_model(config_.model.init_from);
      model_ = convert_weights(source, config_.model);
      spdlog::info("initialised from {} ({} → {} attention)", config_.model.init_from,
                   attention_kind_name(source->config().attention.kind), attention_kind_name(config_.model.attention.kind));
    }
    model_->to(device_);
    auto parameters = model_->parameters();
    comm_->broadcast(parameters);
    build_optimizer();
    state_.config = resolved_yaml(config_);
    state_.config_hash = config_hash(config_);
  } else {
    resume_from(resume);
  }
  // Only now, with everything read and checked, does the run directory gain logs.
  if (comm_->is_main()) metrics_ = std::make_unique<MetricsLog>(run_dir);
  if (!resume.empty()) spdlog::info("resumed from {} at step {}", resume, state_.step);
  carried_.resize(static_cast<size_t>(config_.train.grad_accumulation));

  flops_per_token_ = 3.0 * forward_flops_per_token(config_.model, config_.train.sequence_length);
  const auto compute = config_.run.dtype == torch::kBFloat16 ? torch::kBFloat16 : torch::kFloat32;
  // The job's peak: every rank's measured matmul rate (tokens/s are the job's too).
  peak_flops_ = matmul_gflops(device_.is_cuda() ? 4096 : 1024, compute, device_, 5) * 1e9;
  peak_flops_ = comm_->sum(peak_flops_);
  progress_ = std::make_unique<ProgressBar>(config_.train.steps, options_.progress_bar && comm_->is_main());
}

void Trainer::build_optimizer() {
  // Matrices decay; norms and gates do not (gates have their own rate and decay, see
  // OptimizerSection).
  AdamWGroup matrices{"matrices", {}, config_.train.optimizer.lr, config_.train.optimizer.weight_decay};
  AdamWGroup vectors{"vectors", {}, config_.train.optimizer.lr, 0.0};
  AdamWGroup gates{"gates", {}, config_.train.optimizer.gate_lr, config_.train.optimizer.gate_weight_decay};
  trainable_.clear();
  for (const auto& item : model_->named_parameters()) {
    const auto& name = item.key();
    if (!is_trainable(name, config_.train.trainable)) {
      item.value().requires_grad_(false);  // frozen: no gradient is computed for it at all
      continue;
    }
    trainable_.push_back(item.value());
    if (is_gate(name)) {
      gates.parameters.emplace_back(name, item.value());
    } else if (item.value().dim() >= 2) {
      matrices.parameters.emplace_back(name, item.value());
    } else {
      vectors.parameters.emplace_back(name, item.value());
    }
  }
  if (trainable_.empty()) throw InputError(options_.config_origin + ": train.trainable: the model has no such parameters");
  const auto& o = config_.train.optimizer;
  optimizer_ = std::make_unique<AdamW>(std::vector<AdamWGroup>{matrices, vectors, gates},
                                       AdamWSettings{o.beta1, o.beta2, o.eps});
}

void Trainer::resume_from(const std::string& dir) {
  state_ = read_trainer_state(dir);
  const auto origin = dir + "/trainer_state.json";
  const RunConfig saved = parse_resolved_yaml(state_.config, origin);
  const auto before = flatten_config(saved), now = flatten_config(config_);
  std::string refused;
  std::set<std::string> keys;
  for (const auto& [key, value] : before) keys.insert(key);
  for (const auto& [key, value] : now) keys.insert(key);
  for (const auto& key : keys) {
    const auto a = before.find(key), b = now.find(key);
    const bool same = a != before.end() && b != now.end() && a->second == b->second;
    if (!same && !may_change_on_resume(key)) refused += (refused.empty() ? "" : ", ") + key;
  }
  if (!refused.empty()) {
    throw InputError(dir + ": cannot resume with a changed config; changed keys that must stay the same: " + refused);
  }
  model_ = load_model(dir, device_);
  build_optimizer();
  optimizer_->load_state(read_optimizer_state(dir), state_.optimizer_steps, dir + "/optimizer.safetensors");
  if (state_.world_size != comm_->world_size()) {
    throw InputError(dir + ": written by " + std::to_string(state_.world_size) + " ranks; resume it with as many (this job has " +
                     std::to_string(comm_->world_size()) + ")");
  }
  try {
    data_.source->restore(comm_->world_size() > 1 ? state_.rank_loaders.at(static_cast<size_t>(comm_->rank())) : state_.loader);
  } catch (const InputError& e) {
    throw InputError(origin + ": " + e.what());
  }
  restore_rng_state(state_.rng, origin);
  carried_ = read_carried_state(dir, device_);
  state_.config = resolved_yaml(config_);
  state_.config_hash = config_hash(config_);
  saved_step_ = state_.step;
  last_checkpoint_ = dir;
}

StepReport Trainer::step() {
  const auto& train = config_.train;
  const auto micro_batches = static_cast<size_t>(train.grad_accumulation);
  std::vector<LoaderBatch> batches;
  int64_t local_tokens = 0;
  for (size_t m = 0; m < micro_batches; ++m) {
    batches.push_back(data_.source->next());
    local_tokens += batches.back().tokens;
  }
  // The loss is the mean over every predicted token of the step on all ranks, so summing the
  // ranks' gradients gives exactly the single-process gradient.
  const double tokens = comm_->sum(static_cast<double>(local_tokens));
  StepReport report;
  report.tokens = static_cast<int64_t>(tokens);
  report.positions = static_cast<int64_t>(micro_batches) * train.batch_size * train.sequence_length * comm_->world_size();
  optimizer_->zero_grad();
  double loss_sum = 0.0;
  carried_.resize(micro_batches);
  for (size_t m = 0; m < micro_batches; ++m) {
    auto& batch = batches[m];
    ModelState state = train.carry_memory ? carried_[m] : ModelState{};
    SequenceLoss sequence;
    {
      AutocastScope autocast(config_.run.dtype == torch::kBFloat16, torch::kBFloat16);
      sequence = sequence_loss(model_, batch.inputs.to(device_), batch.targets.to(device_), batch.starts.to(device_),
                               state, bptt_);
    }
    if (tokens > 0) (sequence.loss_sum / tokens).backward();
    loss_sum += sequence.loss_sum.item<double>();
    if (train.carry_memory) carried_[m] = sequence.state.detached();
  }
  report.loss_sum = comm_->sum(loss_sum);

  std::vector<torch::Tensor> grads;
  for (auto& p : trainable_) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  comm_->sum(grads);
  double squares = 0.0;
  for (const auto& g : grads) squares += g.to(torch::kFloat64).pow(2).sum().item<double>();
  report.grad_norm = std::sqrt(squares);

  state_.step += 1;
  state_.tokens_seen += report.tokens;
  const double factor = lr_factor(train.schedule, state_.step, train.steps);
  report.lr = train.optimizer.lr * factor;
  if (!std::isfinite(report.loss_sum) || !std::isfinite(report.grad_norm)) {
    report.skipped = true;
    state_.skipped_steps += 1;
    state_.bad_steps_in_row += 1;
    for (auto& carried : carried_) carried = ModelState{};  // it may hold the non-finite values
    spdlog::warn("step {}: non-finite {} ({} in a row): update skipped", state_.step,
                 std::isfinite(report.loss_sum) ? "gradients" : "loss", state_.bad_steps_in_row);
    if (state_.bad_steps_in_row >= train.max_bad_steps) {
      throw std::runtime_error("training aborted at step " + std::to_string(state_.step) + ": " +
                               std::to_string(state_.bad_steps_in_row) +
                               " steps in a row had non-finite loss or gradients (train.max_bad_steps); the last "
                               "good checkpoint is " + (last_checkpoint_.empty() ? "none" : last_checkpoint_));
    }
    optimizer_->zero_grad();
    return report;
  }
  state_.bad_steps_in_row = 0;
  if (train.grad_clip > 0 && report.grad_norm > train.grad_clip) {
    const double scale = train.grad_clip / (report.grad_norm + 1e-6);
    torch::NoGradGuard no_grad;
    for (auto& g : grads) g.mul_(scale);
  }
  optimizer_->step(factor);
  state_.optimizer_steps = optimizer_->steps();
  return report;
}

ValidationReport Trainer::validate() {
  ValidationReport report;
  if (!validation_) return report;
  PerplexityOptions options;
  options.device = device_;
  options.max_documents = config_.train.eval_documents;
  options.max_tokens_per_document = config_.train.eval_tokens_per_document;
  options.log_documents = false;
  AutocastScope autocast(config_.run.dtype == torch::kBFloat16, torch::kBFloat16);
  const auto result = evaluate_perplexity(model_, *validation_, options);
  for (const auto& d : result.documents) {
    report.nll += d.nll;
    report.tokens += d.tokens;
    report.bytes += d.bytes;
  }
  report.documents = static_cast<int64_t>(result.documents.size());
  return report;
}

std::string Trainer::save_checkpoint(const std::vector<std::string>& links) {
  const auto dir = checkpoints_dir() + "/" + checkpoint_dir_name(state_.step);
  if (saved_step_ == state_.step && !fs::exists(dir)) return last_checkpoint_;  // resumed from elsewhere, not stepped
  if (saved_step_ != state_.step) {
    state_.loader = data_.source->state();
    state_.world_size = comm_->world_size();
    state_.rank_loaders.clear();
    if (comm_->world_size() > 1) {
      for (const auto& text : comm_->gather_text(state_.loader.to_json().dump())) {
        state_.rank_loaders.push_back(LoaderState::from_json(nlohmann::json::parse(text), "a rank's loader state"));
      }
    }
    state_.rng = rng_state();
    if (comm_->is_main()) {
      fs::create_directories(checkpoints_dir());
      save_training_checkpoint(dir, model_, tokenizer_, *optimizer_, state_, carried_);
      spdlog::info("step {}: wrote {}", state_.step, dir);
    }
    saved_step_ = state_.step;
    last_checkpoint_ = dir;
  }
  if (comm_->is_main()) link_and_prune(config_.run.dir, links, state_.step, config_.train.keep_last, state_.best_step);
  return dir;
}

void Trainer::log_progress(const StepReport& report) {
  window_.loss_sum += report.loss_sum;
  window_.tokens += report.tokens;
  window_.positions += report.positions;
  window_.steps += 1;
  // Throughput counts every position run (with passkey_loss: answer, most carry no loss).
  const double tokens_per_second = window_.seconds > 0 ? static_cast<double>(window_.positions) / window_.seconds : 0.0;
  const double mean_loss = window_.tokens > 0 ? window_.loss_sum / static_cast<double>(window_.tokens) : 0.0;
  progress_->update(state_.step, fmt::format("loss {:.4f} {:.0f} tok/s", mean_loss, tokens_per_second),
                   window_.seconds / static_cast<double>(window_.steps));
  const bool last = state_.step == config_.train.steps;
  if (state_.step % config_.train.log_every != 0 && !last) return;

  const double mfu = peak_flops_ > 0 ? flops_per_token_ * tokens_per_second / peak_flops_ : 0.0;
  const double bits_per_byte = data_.bytes_per_token > 0 ? mean_loss / std::log(2.0) / data_.bytes_per_token : 0.0;
  const auto gates = gate_statistics(model_);
  nlohmann::json gate_record = nlohmann::json::object();
  std::string gate_text;
  for (const auto& g : gates) {
    gate_record["layer" + std::to_string(g.layer)] = {
        {"mean", g.mean}, {"below_0.1", g.local_heads}, {"above_0.9", g.memory_heads}};
    char text[64];
    std::snprintf(text, sizeof text, " %.2f(%ld<.1,%ld>.9)", g.mean, g.local_heads, g.memory_heads);
    gate_text += text;
  }
  nlohmann::json record = {{"step", state_.step},
                           {"phase", "train"},
                           {"loss", mean_loss},
                           {"ppl", std::exp(mean_loss)},
                           {"bits_per_byte", bits_per_byte},
                           {"lr", report.lr},
                           {"grad_norm", report.grad_norm},
                           {"tokens_per_second", tokens_per_second},
                           {"mfu", mfu},
                           {"tokens_seen", state_.tokens_seen},
                           {"skipped_steps", state_.skipped_steps},
                           {"peak_rss_bytes", peak_rss_bytes()},
                           {"peak_device_bytes", peak_device_bytes()},
                           {"gates", gate_record}};
  if (comm_->is_main()) {
    progress_->clear();
    spdlog::info("step {}/{} | loss {:.4f} | ppl {:.2f} | bpb {:.3f} | lr {:.3g} | grad {:.3f} | {} tok/s | MFU {:.1f}% "
                 "| rss {:.0f} MiB{}",
                 state_.step, config_.train.steps, mean_loss, std::exp(mean_loss), bits_per_byte, report.lr,
                 report.grad_norm, human(tokens_per_second), 100.0 * mfu, peak_rss_bytes() / 1048576.0,
                 gates.empty() ? "" : " | gates" + gate_text);
    metrics_->write(record);
  }
  window_ = {};
}

void Trainer::log_validation(const ValidationReport& report) {
  if (report.tokens == 0) return;
  const double loss = report.loss();
  const double bits_per_byte = report.bytes > 0 ? report.nll / std::log(2.0) / static_cast<double>(report.bytes) : 0.0;
  if (loss < state_.best_validation_loss) {
    state_.best_validation_loss = loss;
    state_.best_step = state_.step;
    save_checkpoint({"best"});
  }
  if (comm_->is_main()) {
    progress_->clear();
    spdlog::info("step {}: validation loss {:.4f} | ppl {:.2f} | bpb {:.3f} over {} documents, {} tokens (best {:.4f} at "
                 "step {})",
                 state_.step, loss, std::exp(loss), bits_per_byte, report.documents, report.tokens,
                 state_.best_validation_loss, state_.best_step);
    metrics_->write({{"step", state_.step},
                     {"phase", "validation"},
                     {"loss", loss},
                     {"ppl", std::exp(loss)},
                     {"bits_per_byte", bits_per_byte},
                     {"tokens", report.tokens},
                     {"documents", report.documents}});
  }
}

TrainResult Trainer::run(const StopSignal* stop) {
  const auto& train = config_.train;
  if (comm_->is_main()) {
    spdlog::info("training {} parameters: {} steps of {} x {} tokens ({} segments of {}), bptt {}, {} on {}; matmul peak "
                 "{:.0f} GFLOP/s",
                 model_->parameter_count(), train.steps, train.batch_size * train.grad_accumulation * comm_->world_size(),
                 train.sequence_length, train.sequence_length / bptt_.segment_length, bptt_.segment_length,
                 train.bptt_segments > 0 ? std::to_string(train.bptt_segments) + " segments" : "full",
                 dtype_name(config_.run.dtype), device_.str(), peak_flops_ / 1e9);
  }
  TrainResult result;
  int64_t validated_step = -1;
  while (state_.step < train.steps) {
    const auto start = std::chrono::steady_clock::now();
    const auto report = step();
    window_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log_progress(report);
    if (train.eval_every > 0 && state_.step % train.eval_every == 0) {
      log_validation(validate());
      validated_step = state_.step;
    }
    if (train.save_every > 0 && state_.step % train.save_every == 0) save_checkpoint();
    bool asked = stop != nullptr && stop->requested();
    // Every rank must stop after the same step (saving is collective): stop if any rank was asked.
    if (comm_->world_size() > 1) asked = comm_->sum(asked ? 1.0 : 0.0) > 0;
    if ((asked || state_.step == options_.stop_at_step) && state_.step < train.steps) {
      result.checkpoint = save_checkpoint();
      result.step = state_.step;
      return result;
    }
  }
  if (validation_ && validated_step != state_.step) log_validation(validate());
  result.checkpoint = save_checkpoint({"final"});
  result.step = state_.step;
  result.finished = true;
  return result;
}

}  // namespace infini

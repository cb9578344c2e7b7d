#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <thread>

#include "core/autocast.h"
#include "core/errors.h"
#include "core/files.h"
#include "core/runtime.h"
#include "data/tokenizer.h"
#include "eval/perplexity.h"
#include "model/checkpoint.h"
#include "model/memory_need.h"
#include "train/gradients.h"
#include "train/initial_model.h"
#include "train/lr_schedule.h"

namespace infini {

Trainer::Trainer(RunConfig config, TrainerOptions options, std::shared_ptr<Communicator> communicator)
    : config_(std::move(config)),
      options_(std::move(options)),
      comm_(std::move(communicator)),
      device_(config_.run.device),
      checkpoints_(config_.run.dir, config_.train.keep_last, *comm_) {
  const auto& origin = options_.config_origin;
  require_device(device_);
  set_threads(static_cast<int>(config_.run.threads));
  if (config_.run.deterministic) use_deterministic_kernels();
  // Threads chosen per core leave cores to other processes that want them (core/cpu_share.h);
  // a fixed run.threads, a deterministic run, or threads that wait passively keep their count.
  if (config_.run.threads == 0 && device_.is_cpu() && !config_.run.deterministic && !waits_passively()) {
    cpu_share_.emplace(torch::get_num_threads(), static_cast<int>(std::thread::hardware_concurrency()));
  }
  torch::manual_seed(static_cast<uint64_t>(config_.run.seed));
  if (config_.train.carry_memory && comm_->world_size() > 1) {
    throw InputError(origin + ": train.carry_memory: not supported with several ranks yet (each rank's carried "
                     "memory would need its own checkpoint file)");
  }

  // Which checkpoint to continue, if any; the model is whole from here on.
  const auto resume = options_.resume.empty() ? config_.run.resume : ResumeFrom::parse(options_.resume);
  const std::string dir = checkpoints_.choose(resume, options_.replace_run);
  if (!dir.empty() && !config_.model_complete) {
    const RunConfig saved = CheckpointManager::saved_config(dir);
    complete_model(config_, saved.model, origin);
    if (config_.data.tokenizer.empty()) config_.data.tokenizer = saved.data.tokenizer;
  }
  if (dir.empty()) complete_from_init(config_, origin);
  if (config_.data.tokenizer.empty()) throw InputError(origin + ": data.tokenizer: needed to train");
  bind_tokenizer(config_.model, Tokenizer(config_.data.tokenizer), origin);
  config_.model.torch_dtype = torch::kFloat32;  // training checkpoints keep the float32 master weights

  data_ = open_training_data(config_, *comm_, origin);
  bptt_ = {config_.model.attention.segment_length, config_.train.bptt_segments, config_.train.checkpoint_segments};
  if (!config_.data.validation.empty()) validation_ = open_corpus(config_.data.validation, config_.data.tokenizer);
  require_memory(training_bytes(config_.model, config_.train.batch_size, config_.train.sequence_length,
                                config_.train.checkpoint_segments),
                 device_, fmt::format("training {:.3g} parameters on {} rows of {} tokens", parameter_count(config_.model),
                                      config_.train.batch_size, config_.train.sequence_length));
  if (dir.empty()) {
    model_ = initial_model(config_);
    model_->to(device_);
    auto parameters = model_->parameters();
    comm_->broadcast(parameters);
    trainable_ = build_optimizer(model_, config_.train, origin);
    checkpoints_.start_fresh(options_.replace_run);  // with --force: the old run goes only now
    state_.config = resolved_yaml(config_);
    state_.config_hash = config_hash(config_);
  } else {
    resume_from(dir);
  }
  // Only now, with everything read and checked, does the run directory gain logs, and the
  // resolved config (every default filled in) beside them.
  log_ = std::make_unique<TrainingLog>(config_, device_, *comm_, options_.progress_bar);
  if (comm_->is_main()) write_file_atomic(config_.run.dir + "/config.yaml", resolved_yaml(config_));
  if (!dir.empty()) spdlog::info("resumed from {} at step {}", dir, state_.step);
}

void Trainer::resume_from(const std::string& dir) {
  state_ = checkpoints_.read_resumable(dir, config_);
  const auto origin = dir + "/trainer_state.json";
  model_ = load_model(dir, device_);
  trainable_ = build_optimizer(model_, config_.train, options_.config_origin);
  trainable_.optimizer->load_state(read_optimizer_state(dir), state_.optimizer_steps, dir + "/optimizer.safetensors");
  try {
    data_.source->restore(comm_->world_size() > 1 ? state_.rank_loaders.at(static_cast<size_t>(comm_->rank())) : state_.loader);
  } catch (const InputError& e) {
    throw InputError(origin + ": " + e.what());
  }
  restore_rng_state(state_.rng, origin);
  // Checkpoints written before the state was chained hold one per micro-batch; the last one is
  // what the next step's first micro-batch continues.
  const auto carried = read_carried_state(dir, device_);
  if (!carried.empty()) carried_ = carried.back();
  state_.config = resolved_yaml(config_);
  state_.config_hash = config_hash(config_);
  checkpoints_.resumed(dir, state_.step);
}

StepReport Trainer::step() {
  const auto& train = config_.train;
  std::vector<LoaderBatch> batches;
  int64_t local_tokens = 0;
  for (int64_t m = 0; m < train.grad_accumulation; ++m) {
    batches.push_back(data_.source->next());
    local_tokens += batches.back().tokens;
  }
  // The loss is the mean over every predicted token of the step on all ranks, so summing the
  // ranks' gradients gives exactly the single-process gradient.
  const double tokens = comm_->sum(static_cast<double>(local_tokens));
  StepReport report;
  report.tokens = static_cast<int64_t>(tokens);
  report.positions = train.grad_accumulation * train.batch_size * train.sequence_length * comm_->world_size();
  trainable_.optimizer->zero_grad();
  double loss_sum = 0.0;
  for (auto& batch : batches) {
    // Micro-batch m + 1 continues micro-batch m's rows, so it starts from m's memory (the
    // gradient stops between them: m's backward is done).
    ModelState state = train.carry_memory ? carried_ : ModelState{};
    SequenceLoss sequence;
    {
      AutocastScope autocast(config_.run.dtype == torch::kBFloat16, torch::kBFloat16);
      auto write_weights = batch.write_weights.defined() ? batch.write_weights.to(device_) : torch::Tensor();
      sequence = sequence_loss(model_, batch.inputs.to(device_), batch.targets.to(device_), batch.starts.to(device_),
                               state, bptt_, write_weights);
    }
    if (tokens > 0) (sequence.loss_sum / tokens).backward();
    loss_sum += sequence.loss_sum.item<double>();
    if (train.carry_memory) carried_ = sequence.state.detached();
  }
  report.loss_sum = comm_->sum(loss_sum);
  report.grad_norm = reduce_gradients(trainable_.tensors, *comm_);

  state_.step += 1;
  state_.tokens_seen += report.tokens;
  const double factor = lr_factor(train.schedule, state_.step, train.steps);
  report.lr = train.optimizer.lr * factor;
  if (!std::isfinite(report.loss_sum) || !std::isfinite(report.grad_norm)) {
    report.skipped = true;
    state_.skipped_steps += 1;
    state_.bad_steps_in_row += 1;
    carried_ = ModelState{};  // it may hold the non-finite values
    spdlog::warn("step {}: non-finite {} ({} in a row): update skipped", state_.step,
                 std::isfinite(report.loss_sum) ? "gradients" : "loss", state_.bad_steps_in_row);
    if (state_.bad_steps_in_row >= train.max_bad_steps) {
      throw std::runtime_error("training aborted at step " + std::to_string(state_.step) + ": " +
                               std::to_string(state_.bad_steps_in_row) +
                               " steps in a row had non-finite loss or gradients (train.max_bad_steps); the last "
                               "good checkpoint is " + (checkpoints_.last().empty() ? "none" : checkpoints_.last()));
    }
    trainable_.optimizer->zero_grad();
    return report;
  }
  state_.bad_steps_in_row = 0;
  clip_gradients(trainable_.tensors, report.grad_norm, train.grad_clip);
  trainable_.optimizer->step(factor);
  state_.optimizer_steps = trainable_.optimizer->steps();
  return report;
}

ValidationReport Trainer::validate() {
  ValidationReport report;
  if (!validation_) return report;
  PerplexityOptions options;
  options.device = device_;
  options.segment_length = config_.eval.segment_length;
  options.memory = config_.eval.memory;
  options.bucket_width = config_.eval.bucket_width;
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
  if (!checkpoints_.saved(state_.step)) {
    state_.loader = data_.source->state();
    state_.world_size = comm_->world_size();
    state_.rank_loaders.clear();
    if (comm_->world_size() > 1) {
      for (const auto& text : comm_->gather_text(state_.loader.to_json().dump())) {
        state_.rank_loaders.push_back(LoaderState::from_json(nlohmann::json::parse(text), "a rank's loader state"));
      }
    }
    state_.rng = rng_state();
  }
  std::vector<ModelState> carried;
  if (config_.train.carry_memory && !carried_.layers.empty()) carried.push_back(carried_);
  return checkpoints_.save(state_, model_, config_.data.tokenizer, *trainable_.optimizer, carried, links);
}

void Trainer::record_validation(const ValidationReport& report) {
  if (report.tokens == 0) return;
  if (report.loss() < state_.best_validation_loss) {
    state_.best_validation_loss = report.loss();
    state_.best_step = state_.step;
    save_checkpoint({"best"});
  }
  log_->validation(report, state_);
}

TrainResult Trainer::run(const StopSignal* stop) {
  const auto& train = config_.train;
  log_->started(model_, comm_->world_size());
  TrainResult result;
  auto with_checkpoint = [&](const std::vector<std::string>& links) {  // the result, this step saved
    result.checkpoint = save_checkpoint(links);
    result.step = state_.step;
    return result;
  };
  int64_t validated_step = -1;
  const int64_t first_step = state_.step;
  while (state_.step < train.steps) {
    if (cpu_share_) {
      const int threads = cpu_share_->threads();
      if (options_.stop_to_wait_passively && threads < cpu_share_->most()) {
        // Restarted with passive waits, every thread is kept (core/cpu_share.h); until a step is
        // done here there is nothing new to save, and the first step runs as it is.
        if (state_.step > first_step) {
          spdlog::info("other processes kept {:.1f} cores busy: stopping at step {} to restart with threads that wait "
                       "passively",
                       cpu_share_->others_busy(), state_.step);
          result.to_wait_passively = true;
          return with_checkpoint({});
        }
      } else if (threads != torch::get_num_threads()) {
        spdlog::info("threads {} -> {}: other processes kept {:.1f} cores busy", torch::get_num_threads(), threads,
                     cpu_share_->others_busy());
        torch::set_num_threads(threads);
      }
    }
    const auto start = std::chrono::steady_clock::now();
    const auto report = step();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log_->step(report, seconds, state_, data_.source->state().epoch, model_, data_.bytes_per_token);
    if (train.eval_every > 0 && state_.step % train.eval_every == 0) {
      record_validation(validate());
      validated_step = state_.step;
    }
    if (train.save_every > 0 && state_.step % train.save_every == 0) save_checkpoint();
    bool asked = stop != nullptr && stop->requested();
    // Every rank must stop after the same step (saving is collective): stop if any rank was asked.
    if (comm_->world_size() > 1) asked = comm_->sum(asked ? 1.0 : 0.0) > 0;
    if ((asked || state_.step == options_.stop_at_step) && state_.step < train.steps) return with_checkpoint({});
  }
  if (validation_ && validated_step != state_.step) record_validation(validate());
  result.finished = true;
  return with_checkpoint({"final"});
}

}  // namespace infini

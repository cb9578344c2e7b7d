#include "train/training_log.h"

#include <cmath>

#include "core/number_format.h"
#include "core/runtime.h"
#include "core/system.h"
#include "eval/gates.h"
#include "model/flops.h"

namespace infini {

TrainingLog::TrainingLog(const RunConfig& config, torch::Device device, Communicator& comm, bool progress_bar)
    : config_(config),
      device_(device),
      main_(comm.is_main()),
      progress_(config.train.steps, progress_bar && comm.is_main()) {
  flops_per_token_ = 3.0 * forward_flops_per_token(config.model, config.train.sequence_length);
  const auto compute = config.run.dtype == torch::kBFloat16 ? torch::kBFloat16 : torch::kFloat32;
  peak_flops_ = comm.sum(matmul_gflops(device.is_cuda() ? 4096 : 1024, compute, device, 5) * 1e9);
  if (main_) metrics_ = std::make_unique<MetricsLog>(config.run.dir);
}

void TrainingLog::started(const Decoder& model, int64_t world_size) const {
  if (!main_) return;
  const auto& train = config_.train;
  const int64_t segment = config_.model.attention.segment_length;
  spdlog::info("training {} parameters: {} steps of {} x {} tokens ({} segments of {}), bptt {}, {} on {}; matmul peak "
               "{:.0f} GFLOP/s",
               model->parameter_count(), train.steps, train.batch_size * train.grad_accumulation * world_size,
               train.sequence_length, train.sequence_length / segment, segment,
               train.bptt_segments > 0 ? std::to_string(train.bptt_segments) + " segments" : "full",
               dtype_name(config_.run.dtype), device_.str(), peak_flops_ / 1e9);
}

void TrainingLog::step(const StepReport& report, double seconds, const TrainerState& state, int64_t epoch,
                       const Decoder& model, double bytes_per_token) {
  const int64_t step = state.step;
  lr_ = report.lr;
  window_.loss_sum += report.loss_sum;
  window_.tokens += report.tokens;
  window_.positions += report.positions;
  window_.seconds += seconds;
  window_.steps += 1;
  // Throughput counts every position run (with passkey_loss: answer, most carry no loss).
  const double tokens_per_second = window_.seconds > 0 ? static_cast<double>(window_.positions) / window_.seconds : 0.0;
  const double mean_loss = window_.tokens > 0 ? window_.loss_sum / static_cast<double>(window_.tokens) : 0.0;
  progress_.update(step, fmt::format("loss {:.4f} {:.0f} tok/s", mean_loss, tokens_per_second),
                   window_.seconds / static_cast<double>(window_.steps));
  if (step % config_.train.log_every != 0 && step != config_.train.steps) return;

  const double mfu = peak_flops_ > 0 ? flops_per_token_ * tokens_per_second / peak_flops_ : 0.0;
  const double bits_per_byte = bytes_per_token > 0 ? mean_loss / std::log(2.0) / bytes_per_token : 0.0;
  const auto gates = gate_statistics(model);
  nlohmann::json gate_record = nlohmann::json::object();
  std::string gate_text;
  for (const auto& g : gates) {
    gate_record["layer" + std::to_string(g.layer)] = {
        {"mean", g.mean}, {"below_0.1", g.local_heads}, {"above_0.9", g.memory_heads}, {"heads", g.values}};
    gate_text += fmt::format(" {:.2f}({}<.1,{}>.9)", g.mean, g.local_heads, g.memory_heads);
  }
  if (main_) {
    progress_.clear();
    spdlog::info("step {}/{} | loss {:.4f} | ppl {:.2f} | bpb {:.3f} | lr {:.3g} | grad {:.3f} | {} tok/s | MFU {:.1f}% "
                 "| rss {:.0f} MiB{}",
                 step, config_.train.steps, mean_loss, std::exp(mean_loss), bits_per_byte, report.lr, report.grad_norm,
                 count_text(tokens_per_second), 100.0 * mfu, peak_rss_bytes() / 1048576.0,
                 gates.empty() ? "" : " | gates" + gate_text);
    metrics_->write({{"step", step},
                     {"phase", "train"},
                     {"loss", mean_loss},
                     {"ppl", std::exp(mean_loss)},
                     {"bits_per_byte", bits_per_byte},
                     {"lr", report.lr},
                     {"grad_norm", report.grad_norm},
                     {"tokens_per_second", tokens_per_second},
                     {"mfu", mfu},
                     {"tokens_seen", state.tokens_seen},
                     {"epoch", epoch},
                     {"skipped_steps", state.skipped_steps},
                     {"peak_rss_bytes", peak_rss_bytes()},
                     {"peak_device_bytes", peak_device_bytes()},
                     {"gates", gate_record}});
  }
  window_ = {};
}

void TrainingLog::validation(const ValidationReport& report, const TrainerState& state) {
  if (!main_ || report.tokens == 0) return;
  const int64_t step = state.step;
  const double loss = report.loss();
  const double bits_per_byte = report.bytes > 0 ? report.nll / std::log(2.0) / static_cast<double>(report.bytes) : 0.0;
  progress_.clear();
  spdlog::info("step {}: validation loss {:.4f} | ppl {:.2f} | bpb {:.3f} over {} documents, {} tokens (best {:.4f} at "
               "step {})",
               step, loss, std::exp(loss), bits_per_byte, report.documents, report.tokens, state.best_validation_loss,
               state.best_step);
  metrics_->write({{"step", step},
                   {"phase", "validation"},
                   {"loss", loss},
                   {"ppl", std::exp(loss)},
                   {"bits_per_byte", bits_per_byte},
                   {"tokens", report.tokens},
                   {"documents", report.documents},
                   {"tokens_seen", state.tokens_seen},
                   {"lr", lr_}});
}

}  // namespace infini

// Benchmark: where a training step's time goes. The configuration of issue 15 (4 infini layers,
// hidden 256, 4 heads, FFN 688, vocabulary 8000, untied embeddings, segments of 256 × 4,
// batch 4, delta memory, float32 or --dtype bfloat16 autocast), warmed up, then profiled for a
// few steps of sequence_loss + backward + AdamW: wall time and page faults by phase (forward,
// backward, optimizer) and the fastest step, and self time by ATen op (--shapes: by op and input
// shapes) and by op family from LibTorch's profiler; --attention local drops the memory. With --eval N,
// the same for `eval ppl`'s scoring of one random N-token document with the memory carried
// (document_nll, weights in --dtype). Prints numbers; asserts nothing. One process per
// configuration, e.g.
//   build/bench_profile; build/bench_profile --plain; build/bench_profile --eval 65536
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <vector>

#include "bench_model.h"
#include "core/autocast.h"
#include "core/cpu_allocator.h"
#include "core/runtime.h"
#include "eval/perplexity.h"
#include "train/bptt.h"
#include "train/optimizer.h"

using namespace infini;
namespace profiler = torch::autograd::profiler;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Page faults so far: on this kind of VM one costs ~13 µs, so a step that maps fresh pages pays
// for it in wall time that no op's self time shows.
int64_t page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

// A family of ops, for the summary: what the time is spent on, whatever the op's exact name.
std::string family(const std::string& op) {
  auto has = [&](const char* part) { return op.find(part) != std::string::npos; };
  if (has("mm") || has("matmul") || has("linear") || has("baddbmm") || has("addmm")) return "matmul";
  if (has("softmax") || has("log_softmax") || has("nll_loss") || has("cross_entropy")) return "softmax / loss";
  if (has("elu") || has("silu") || has("sigmoid")) return "activations";
  if (has("rsqrt") || has("pow") || has("mean") || has("rms")) return "norms";
  if (has("copy_") || has("contiguous") || has("clone") || has("cat") || has("stack") || has("to") ||
      has("empty") || has("zeros") || has("fill_") || has("index") || has("gather") || has("scatter") ||
      has("embedding")) {
    return "copies, allocation, indexing";
  }
  if (has("add") || has("mul") || has("div") || has("sub") || has("sum") || has("sqrt") || has("lerp") ||
      has("addcmul") || has("addcdiv") || has("neg") || has("where") || has("masked")) {
    return "elementwise and reductions";
  }
  return "other";
}

struct OpTime {
  double self_us = 0, total_us = 0;
  int64_t calls = 0;
};

// Self time per op name: each push/pop pair's duration minus its children's, per thread.
// With `by_shape`, each op's input shapes join its name (profiled with shapes recorded).
std::map<std::string, OpTime> self_times(const profiler::thread_event_lists& lists, bool by_shape) {
  std::map<std::string, OpTime> ops;
  for (const auto& events : lists) {
    struct Open {
      const profiler::LegacyEvent* push;
      double children_us;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kind() == profiler::EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == profiler::EventKind::PopRange && !stack.empty()) {
        const auto open = stack.back();
        stack.pop_back();
        const double total = open.push->cpuElapsedUs(e);
        std::string name = open.push->name();
        if (by_shape) {
          for (const auto& shape : open.push->shapes()) {
            name += " [";
            for (size_t i = 0; i < shape.size(); ++i) name += (i ? "," : "") + std::to_string(shape[i]);
            name += "]";
          }
        }
        auto& op = ops[name];
        op.total_us += total;
        op.self_us += total - open.children_us;
        op.calls += 1;
        if (!stack.empty()) stack.back().children_us += total;
      }
    }
  }
  return ops;
}

// The profiler's self times by op family and the top ops, per step (or per pass).
void print_ops(const std::map<std::string, OpTime>& ops, double profiled_wall_s, double wall_s, int steps, int top) {
  double profiled_self = 0;
  std::map<std::string, double> families;
  std::vector<std::pair<std::string, OpTime>> sorted(ops.begin(), ops.end());
  for (const auto& [name, op] : sorted) {
    profiled_self += op.self_us;
    families[family(name)] += op.self_us;
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
  const double profiled_wall = profiled_wall_s * 1e6;
  std::printf("\nwith the profiler: %.3f s/step (its overhead %.0f%%); self time by op family:\n",
              profiled_wall / 1e6 / steps, 100.0 * (profiled_wall / (wall_s * 1e6) - 1));
  std::vector<std::pair<std::string, double>> by_family(families.begin(), families.end());
  std::sort(by_family.begin(), by_family.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [name, us] : by_family) std::printf("  %-30s %8.1f ms/step %6.1f%%\n", name.c_str(), us / 1e3 / steps, 100.0 * us / profiled_self);
  int width = 50;  // names with their shapes run longer
  for (int i = 0; i < top && i < static_cast<int>(sorted.size()); ++i) {
    width = std::max(width, std::min(110, static_cast<int>(sorted[static_cast<size_t>(i)].first.size())));
  }
  std::printf("\ntop ops by self time:\n  %-*s %8s %8s %10s %10s\n", width, "op", "calls", "ms/step", "self", "incl. ms");
  for (int i = 0; i < top && i < static_cast<int>(sorted.size()); ++i) {
    const auto& [name, op] = sorted[static_cast<size_t>(i)];
    std::printf("  %-*s %8ld %8.1f %9.1f%% %10.1f\n", width, name.substr(0, static_cast<size_t>(width)).c_str(), op.calls / steps,
                op.self_us / 1e3 / steps, 100.0 * op.self_us / profiled_self, op.total_us / 1e3 / steps);
  }
}

// eval ppl's inner loop on one random document: passes of document_nll (memory carried, several
// segments per forward call), timed without and then with the profiler.
void profile_evaluation(Decoder& model, int64_t tokens, torch::ScalarType dtype, int passes, int top, bool by_shape) {
  c10::InferenceMode inference;
  model->to(dtype);
  const auto document = torch::randint(model->config().vocab_size, {tokens}, torch::kInt64);
  const std::vector<int64_t> ids(document.data_ptr<int64_t>(), document.data_ptr<int64_t>() + tokens);
  PerplexityOptions options;
  options.dtype = dtype;
  std::vector<PositionBucket> buckets;
  auto pass = [&] {
    const auto start = Clock::now();
    document_nll(model, ids, options, buckets);
    return since(start);
  };
  pass();  // warm-up
  double wall = 0;
  for (int i = 0; i < passes; ++i) wall += pass();
  profiler::enableProfilerLegacy(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/by_shape));
  double profiled = 0;
  for (int i = 0; i < passes; ++i) profiled += pass();
  const auto ops = self_times(profiler::disableProfilerLegacy(), by_shape);
  std::printf("threads %d, eval ppl of one %ld-token document, memory carried, segments of %ld, %ld per call, %s, %d passes\n",
              torch::get_num_threads(), tokens, model->config().attention.segment_length,
              model->segments_per_call(model->config().attention.segment_length), dtype_name(dtype).c_str(), passes);
  std::printf("%.0f tokens/s without the profiler (%.3f s/pass)\n", static_cast<double>(tokens) * passes / wall, wall / passes);
  print_ops(ops, profiled, wall, passes, top);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Where a training step's time goes"};
  int threads = 2, steps = 3, warmup = 2, top = 25;
  int64_t segment = 256, segments = 4, batch = 4;
  bool plain = false;
  app.add_option("--threads", threads, "0: one per core")->capture_default_str();
  app.add_option("--steps", steps, "profiled steps")->capture_default_str();
  app.add_option("--warmup", warmup, "steps before profiling")->capture_default_str();
  app.add_option("--segment", segment)->capture_default_str();
  app.add_option("--segments", segments, "segments per sequence, backpropagated through the memory")->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--top", top, "ops listed (0: no profiler pass)")->capture_default_str();
  std::string attention = "infini";
  app.add_option("--attention", attention, "every layer's attention kind (local: no memory, to see what it costs)")
      ->capture_default_str()
      ->check(CLI::IsMember({"infini", "local"}));
  bool by_shape = false;
  app.add_flag("--shapes", by_shape, "list ops by name and input shapes");
  app.add_flag("--plain", plain, "keep every segment's activations (no segment checkpointing)");
  bool glibc = false;
  app.add_flag("--glibc-malloc", glibc, "leave LibTorch on glibc malloc (no caching allocator)");
  int64_t eval_tokens = 0;
  app.add_option("--eval", eval_tokens, "profile eval ppl's scoring of one random document of N tokens instead");
  std::string dtype = "float32";
  app.add_option("--dtype", dtype, "training: float32, or bfloat16 autocast (float32 weights); --eval: the weights' dtype")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16"}));
  CLI11_PARSE(app, argc, argv);
  set_threads(threads);
  if (!glibc) use_caching_cpu_allocator();

  ModelConfig config = bench::small_model_config(segment);
  config.attention.memory_update = MemoryUpdate::Delta;
  config.attention.kind = *parse_attention_kind(attention);
  Decoder model(config);
  model->initialise(0);
  if (eval_tokens > 0) {
    profile_evaluation(model, eval_tokens, parse_dtype(dtype), steps, top, by_shape);
    return 0;
  }
  NamedTensors parameters;
  for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
  AdamW optimizer({{"all", parameters, 1e-3, 0.1}}, {0.9, 0.95, 1e-8});
  const int64_t length = segments * segment;
  auto tokens = torch::randint(config.vocab_size, {batch, length});
  auto targets = torch::randint(config.vocab_size, {batch, length});
  auto starts = torch::zeros({batch, length}, torch::kBool);
  const BpttOptions bptt{segment, 0, !plain};

  struct Phases {
    double forward = 0, backward = 0, optimizer = 0;
    int64_t faults[3] = {0, 0, 0};
  };
  const bool autocast = parse_dtype(dtype) == torch::kBFloat16;
  auto step = [&](Phases& phases) {
    auto start = Clock::now();
    auto faults = page_faults();
    auto count_faults = [&](int phase) {
      const auto now = page_faults();
      phases.faults[phase] += now - faults;
      faults = now;
    };
    torch::Tensor loss;
    {
      AutocastScope scope(autocast, torch::kBFloat16);  // as the trainer casts
      loss = sequence_loss(model, tokens, targets, starts, ModelState{}, bptt).loss_sum /
             static_cast<double>(batch * length);
    }
    phases.forward += since(start);
    count_faults(0);
    start = Clock::now();
    loss.backward();
    phases.backward += since(start);
    count_faults(1);
    start = Clock::now();
    optimizer.step(1.0);
    optimizer.zero_grad();
    phases.optimizer += since(start);
    count_faults(2);
  };

  Phases unprofiled, profiled;
  for (int i = 0; i < warmup; ++i) step(unprofiled);
  unprofiled = {};
  double fastest = 1e30;  // a step's wall time least disturbed by the rest of the machine
  for (int i = 0; i < steps; ++i) {  // the phases without the profiler's overhead
    const double before = unprofiled.forward + unprofiled.backward + unprofiled.optimizer;
    step(unprofiled);
    fastest = std::min(fastest, unprofiled.forward + unprofiled.backward + unprofiled.optimizer - before);
  }
  std::map<std::string, OpTime> ops;
  if (top > 0) {  // --top 0: timing alone, e.g. under perf
    profiler::enableProfilerLegacy(
        torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/by_shape));
    for (int i = 0; i < steps; ++i) step(profiled);
    ops = self_times(profiler::disableProfilerLegacy(), by_shape);
  }

  const double tokens_per_step = static_cast<double>(batch * length);
  const double wall = unprofiled.forward + unprofiled.backward + unprofiled.optimizer;
  std::printf("threads %d, batch %ld x %ld segments of %ld, %s, %s, %d steps\n", torch::get_num_threads(), batch,
              segments, segment, plain ? "no checkpointing" : "segment checkpointing",
              autocast ? "bfloat16 autocast" : "float32", steps);
  std::printf("%.0f tokens/s without the profiler (fastest step: %.0f)\n\nphase        s/step   share  page faults/step\n",
              tokens_per_step * steps / wall, tokens_per_step / fastest);
  const double seconds[3] = {unprofiled.forward, unprofiled.backward, unprofiled.optimizer};
  const char* names[3] = {"forward", "backward", "optimizer"};
  for (int phase = 0; phase < 3; ++phase) {
    std::printf("%-10s %8.3f %6.1f%% %10ld\n", names[phase], seconds[phase] / steps, 100.0 * seconds[phase] / wall,
                unprofiled.faults[phase] / steps);
  }
  if (top > 0) print_ops(ops, profiled.forward + profiled.backward + profiled.optimizer, wall, steps, top);

  return 0;
}

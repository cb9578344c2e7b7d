// Benchmark: peak memory and time of backpropagation through k segments of memory, with and
// without per-segment gradient checkpointing. Peak RSS only grows within a process, so run one
// configuration per process, e.g.
//   for k in 2 8 32; do build/bench_bptt --segments $k; build/bench_bptt --segments $k --plain; done
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "bench_model.h"
#include "core/cpu_allocator.h"
#include "core/runtime.h"
#include "core/system.h"
#include "train/bptt.h"

using namespace infini;

int main(int argc, char** argv) {
  CLI::App app{"BPTT memory benchmark"};
  int64_t segments = 8, segment = 512, batch = 2;
  int threads = 0;
  bool plain = false, forward_only = false;
  app.add_option("--segments", segments, "k: segments unrolled with backprop through memory");
  app.add_option("--segment", segment, "tokens per segment");
  app.add_option("--batch", batch);
  app.add_option("--threads", threads);
  app.add_flag("--plain", plain, "keep every segment's activations (no checkpointing)");
  app.add_flag("--forward-only", forward_only, "no gradients at all (the floor)");
  bool glibc = false;
  app.add_flag("--glibc-malloc", glibc, "leave LibTorch on glibc malloc (no caching allocator)");
  CLI11_PARSE(app, argc, argv);
  set_threads(threads);
  if (!glibc) use_caching_cpu_allocator();

  ModelConfig config = bench::small_model_config(segment);
  Decoder model(config);
  model->initialise(0);
  auto tokens = torch::randint(config.vocab_size, {batch, segments * segment});
  auto targets = torch::randint(config.vocab_size, {batch, segments * segment});
  const int64_t baseline = peak_rss_bytes();

  auto start = std::chrono::steady_clock::now();
  auto starts = torch::zeros({batch, segments * segment}, torch::kBool);
  torch::Tensor loss;
  {
    torch::AutoGradMode grad_mode(!forward_only);
    loss = sequence_loss(model, tokens, targets, starts, ModelState{}, {segment, 0, !plain && !forward_only}).loss_sum;
  }
  const int64_t after_forward = peak_rss_bytes();
  if (!forward_only) loss.backward();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("k=%3ld %-12s peak RSS %7.1f MiB (model and data %6.1f MiB, after forward %6.1f MiB), %.2f s, "
              "%.0f tokens/s\n", segments, plain ? "plain" : "checkpointed", peak_rss_bytes() / 1048576.0,
              baseline / 1048576.0, after_forward / 1048576.0, seconds,
              batch * segments * segment / seconds);
  return 0;
}

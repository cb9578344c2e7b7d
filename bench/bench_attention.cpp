// Benchmark: forward and forward+backward time per segment for the attention layer (each kind)
// and for a small whole model, with tokens/s and achieved GFLOP/s next to the plain matrix-
// multiply GFLOP/s measured in the same process. Prints numbers; asserts nothing.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <torch/torch.h>

#include "attention/attention.h"
#include "bench_model.h"
#include "core/cpu_allocator.h"
#include "core/runtime.h"
#include "core/system.h"
#include "model/decoder.h"
#include "model/flops.h"

using namespace infini;

namespace {

// The median of `iterations` timed calls after one warm-up: robust to a noisy shared machine.
double seconds_per_call(const std::function<void()>& call, int iterations) {
  call();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    call();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Attention and model benchmark"};
  int threads = 0, iterations = 9;
  int64_t segment = 512, hidden = 512, heads = 8, kv_heads = 8, batch = 1;
  app.add_option("--threads", threads, "0: one per core");
  app.add_option("--iterations", iterations);
  app.add_option("--segment", segment);
  app.add_option("--hidden", hidden);
  app.add_option("--heads", heads);
  app.add_option("--kv-heads", kv_heads);
  app.add_option("--batch", batch);
  bool glibc = false;
  app.add_flag("--glibc-malloc", glibc, "leave LibTorch on glibc malloc (no caching allocator, unlike infini)");
  CLI11_PARSE(app, argc, argv);
  set_threads(threads);
  if (!glibc) use_caching_cpu_allocator();

  auto blas = blas_info();
  std::printf("threads %d, BLAS %s core %s\n", torch::get_num_threads(), blas.library.c_str(), blas.core.c_str());
  const double peak = matmul_gflops(1024, torch::kFloat32, torch::kCPU, 20);
  std::printf("matmul 1024^3 float32: %.1f GFLOP/s; bfloat16: %.1f GFLOP/s\n\n", peak,
              matmul_gflops(1024, torch::kBFloat16, torch::kCPU, 20));

  std::printf("attention layer: batch %ld, segment %ld, hidden %ld, heads %ld/%ld kv\n", batch, segment, hidden, heads,
              kv_heads);
  std::printf("%-14s %10s %10s %12s %10s %8s\n", "kind", "fwd ms", "fwd+bwd ms", "fwd tok/s", "GFLOP/s", "of peak");
  for (auto kind : {AttentionKind::Local, AttentionKind::Infini, AttentionKind::Xl, AttentionKind::Full}) {
    for (auto rule : {MemoryUpdate::Linear, MemoryUpdate::Delta}) {
      if (kind != AttentionKind::Infini && rule == MemoryUpdate::Delta) continue;
      AttentionOptions o{hidden, heads, kv_heads, hidden / heads, kind, rule, 1e-6, 10000.0};
      Attention layer(o);
      auto x = torch::randn({batch, segment, hidden});
      // Carry one segment of state in, as in a long document (full: 3 earlier segments).
      AttentionState state;
      {
        torch::NoGradGuard no_grad;
        for (int i = 0; i < (kind == AttentionKind::Full ? 3 : 1); ++i) state = layer(x, state).second;
      }
      const int64_t past = kind == AttentionKind::Xl ? segment : kind == AttentionKind::Full ? 3 * segment : 0;
      double fwd = seconds_per_call([&] {
        torch::NoGradGuard no_grad;
        layer(x, state);
      }, iterations);
      auto xg = x.clone().requires_grad_(true);
      double both = seconds_per_call([&] { layer(xg, state).first.sum().backward(); }, iterations);
      const double flops = attention_flops(o, segment, past) * batch;
      std::string name = attention_kind_name(kind) + (kind == AttentionKind::Infini ? (rule == MemoryUpdate::Delta ? "/delta" : "/linear") : "");
      std::printf("%-14s %10.2f %10.2f %12.0f %10.1f %7.0f%%\n", name.c_str(), fwd * 1e3, both * 1e3,
                  batch * segment / fwd, flops / fwd / 1e9, 100.0 * flops / fwd / 1e9 / peak);
    }
  }

  ModelConfig config = bench::small_model_config(256);
  Decoder model(config);
  model->initialise(0);
  const int64_t segments = 4, length = segments * config.attention.segment_length;
  auto tokens = torch::randint(config.vocab_size, {batch, length});
  const double params = static_cast<double>(model->parameter_count());
  // The embedding lookup is no matmul: only the weights that multiply count (lm_head does).
  const double matmul_params = params - static_cast<double>(model->model->embed_tokens->weight.numel());
  double fwd = seconds_per_call([&] {
    torch::NoGradGuard no_grad;
    ModelState state;
    forward_sequence(model, tokens, config.attention.segment_length, state);
  }, iterations);
  double both = seconds_per_call([&] {
    ModelState state;
    auto logits = forward_sequence(model, tokens, config.attention.segment_length, state);
    torch::nn::functional::cross_entropy(logits.view({-1, config.vocab_size}), tokens.view({-1})).backward();
  }, iterations);
  // 2·(matmul) params per token forward (3× that with backward) plus attention and memory.
  auto o = config.attention_options(0);
  const double attn = attention_flops(o, config.attention.segment_length, 0) -
                      2.0 * config.attention.segment_length * o.hidden_size * 4 * o.num_heads * o.head_dim;
  const double fwd_flops = batch * (2.0 * matmul_params * length + segments * config.num_hidden_layers * attn);
  std::printf("\nmodel: %.2fM parameters, 4 layers infini, %ld segments of %ld tokens\n", params / 1e6, segments,
              config.attention.segment_length);
  std::printf("forward:          %8.1f ms/segment, %8.0f tokens/s, %6.1f GFLOP/s (%.0f%% of matmul)\n",
              fwd / segments * 1e3, batch * length / fwd, fwd_flops / fwd / 1e9, 100.0 * fwd_flops / fwd / 1e9 / peak);
  std::printf("forward+backward: %8.1f ms/segment, %8.0f tokens/s, %6.1f GFLOP/s (%.0f%% of matmul)\n",
              both / segments * 1e3, batch * length / both, 3 * fwd_flops / both / 1e9,
              100.0 * 3 * fwd_flops / both / 1e9 / peak);
  std::printf("peak RSS %.1f MiB\n", peak_rss_bytes() / 1048576.0);
  return 0;
}

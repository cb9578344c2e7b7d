// How the compressive memory learns to carry a key, in isolation: trains a tiny infini model from
// scratch on the synthetic recall task (data/recall_task.h), optionally with a curriculum that
// doubles the sample length, then scores held-out samples of growing length with the memory
// carried and with it reset at every segment. Prints the training loss as it goes, a table of
// answer loss and digit accuracy by length, and the trained gates. scripts/recall_study.sh runs
// the variants the README reports, e.g.
//   build/recall_study --update delta --segment 32 --segments 2 --max-segments 32 --double-every 150 --steps 900
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/errors.h"
#include "core/runtime.h"
#include "data/loader_batch.h"
#include "data/recall_task.h"
#include "model/decoder.h"
#include "train/bptt.h"

using namespace infini;

namespace {

struct Score {
  double loss = 0, accuracy = 0;  // per digit: mean nats, share predicted right (argmax)
};

// Answer loss and accuracy of `batch`; `reset` starts every segment with an empty memory.
Score score(Decoder& model, const RecallBatch& batch, int64_t segment, bool reset) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> pieces;
  ModelState state;
  for_each_segment(model, batch.inputs, segment, state, !reset,
                   [&](int64_t, const torch::Tensor& logits) { pieces.push_back(logits); });
  auto logits = torch::cat(pieces, 1);
  auto answer = batch.targets != kIgnoreTarget;
  auto picked = logits.index({answer});
  auto truth = batch.targets.index({answer});
  Score result;
  result.loss = torch::nn::functional::cross_entropy(picked.to(torch::kFloat64), truth).item<double>();
  result.accuracy = (picked.argmax(-1) == truth).to(torch::kFloat64).mean().item<double>();
  return result;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"Recall through the compressive memory: a tiny model trained from scratch"};
  int64_t key_tokens = 1, segment = 32, segments = 2, max_segments = 0, double_every = 0, steps = 400, batch = 32;
  int64_t hidden = 32, layers = 2, heads = 4, kv_heads = 2, vocab = 64, eval_tokens = 20000, min_samples = 20;
  uint64_t seed = 0;
  double lr = 1e-2;
  int threads = 0;
  std::string update = "linear", eval_list = "2,8,32,128,512,2048";
  app.add_option("--key-tokens", key_tokens, "digits in the key");
  app.add_option("--segment", segment, "tokens per segment");
  app.add_option("--segments", segments, "segments per training sample (the curriculum's start)");
  app.add_option("--max-segments", max_segments, "the curriculum's end (0: --segments)");
  app.add_option("--double-every", double_every, "steps between doublings of the sample length (0: none)");
  app.add_option("--steps", steps);
  app.add_option("--batch", batch, "samples per step");
  app.add_option("--lr", lr, "Adam's learning rate, constant");
  app.add_option("--update", update, "memory update: linear or delta")->check(CLI::IsMember({"linear", "delta"}));
  app.add_option("--hidden", hidden);
  app.add_option("--layers", layers);
  app.add_option("--heads", heads);
  app.add_option("--kv-heads", kv_heads);
  app.add_option("--vocab", vocab);
  app.add_option("--eval-segments", eval_list, "sample lengths to score, in segments, comma-separated");
  app.add_option("--eval-tokens", eval_tokens, "tokens per length scored, in samples of that length");
  app.add_option("--min-samples", min_samples, "samples per length at least");
  app.add_option("--seed", seed);
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  set_threads(threads);
  if (max_segments == 0) max_segments = segments;

  ModelConfig config;
  config.vocab_size = vocab;
  config.hidden_size = hidden;
  config.num_hidden_layers = layers;
  config.num_attention_heads = heads;
  config.num_key_value_heads = kv_heads;
  config.intermediate_size = hidden * 3 / 2;
  config.attention.kind = AttentionKind::Infini;
  config.attention.segment_length = segment;
  config.attention.memory_update = update == "delta" ? MemoryUpdate::Delta : MemoryUpdate::Linear;
  const RecallTask task(vocab, segment, key_tokens);

  torch::manual_seed(seed);
  Decoder model(config);
  model->initialise(seed);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(lr));
  torch::Generator generator = at::detail::createCPUGenerator(seed + 1);
  std::printf("recall study: key %ld digits, segments of %ld, %s update, %ld steps of %ld samples, lr %g\n", key_tokens,
              segment, update.c_str(), steps, batch, lr);
  for (int64_t step = 0; step < steps; ++step) {
    int64_t length = segments;
    if (double_every > 0) length = std::min(max_segments, segments << std::min<int64_t>(step / double_every, 40));
    auto sample = task.batch(batch, length, generator);
    auto starts = torch::zeros_like(sample.inputs, torch::kBool);
    auto loss = sequence_loss(model, sample.inputs, sample.targets, starts, ModelState{}, {segment, 0, false}).loss_sum /
                (batch * key_tokens);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step % 50 == 0 || step == steps - 1)
      std::printf("step %5ld  segments %5ld  loss %.3f\n", step, length, loss.item<double>());
  }

  std::printf("\nchance: %.3f nats, 10%% per digit\n", std::log(10.0));
  std::printf("| segments | tokens | samples | loss | accuracy | loss, memory reset | accuracy, memory reset |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  std::stringstream list(eval_list);
  for (std::string item; std::getline(list, item, ',');) {
    const int64_t n = std::stoll(item);
    const int64_t rows = std::max<int64_t>(min_samples, eval_tokens / (n * segment));
    torch::Generator held_out = at::detail::createCPUGenerator(1000 + seed);
    const auto sample = task.batch(rows, n, held_out);
    const Score carried = score(model, sample, segment, false), reset = score(model, sample, segment, true);
    std::printf("| %ld | %ld | %ld | %.3f | %.1f%% | %.3f | %.1f%% |\n", n, n * segment, rows, carried.loss,
                100 * carried.accuracy, reset.loss, 100 * reset.accuracy);
    std::fflush(stdout);
  }
  std::printf("\ngates (sigmoid β) per layer, head by head:\n");
  for (const auto& item : model->named_parameters())
    if (is_gate_parameter(item.key())) {
      std::printf("%s:", item.key().c_str());
      auto gate = torch::sigmoid(item.value().detach().flatten());
      for (int64_t h = 0; h < gate.numel(); ++h) std::printf(" %.2f", gate[h].item<double>());
      std::printf("\n");
    }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const InputError& error) {
    std::fprintf(stderr, "recall_study: %s\n", error.what());
    return 2;
  }
}

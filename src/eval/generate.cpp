#include "eval/generate.h"

#include "core/errors.h"

namespace infini {

namespace {

int64_t pick(const torch::Tensor& logits, const GenerateOptions& options, torch::Generator& generator) {
  if (options.temperature <= 0.0) return logits.argmax().item<int64_t>();
  auto probs = torch::softmax(logits.to(torch::kFloat64) / options.temperature, -1);
  if (options.top_p < 1.0) {
    // Keep the smallest set of most likely tokens whose probability reaches top_p.
    auto [sorted, order] = probs.sort(-1, /*descending=*/true);
    auto before = sorted.cumsum(-1) - sorted;
    sorted.masked_fill_(before >= options.top_p, 0.0);
    probs = torch::zeros_like(probs).scatter(-1, order, sorted);
  }
  return torch::multinomial(probs, 1, false, generator).item<int64_t>();
}

}  // namespace

std::vector<int64_t> generate(Decoder& decoder, const std::vector<int64_t>& prompt, const GenerateOptions& options,
                              const std::function<void(int64_t)>& on_token) {
  if (prompt.empty()) throw InputError("generate: the prompt is empty (it should at least hold bos)");
  c10::InferenceMode inference;
  const int64_t segment = decoder->config().attention.segment_length;
  const auto device = decoder->output_weight().device();
  auto generator = at::detail::createCPUGenerator(options.seed);

  ModelState state;              // the memory of every completed segment
  std::vector<int64_t> current;  // tokens of the segment in progress
  torch::Tensor next_logits;     // the prediction after the last token pushed
  auto push = [&](int64_t token) {
    current.push_back(token);
    const bool complete = static_cast<int64_t>(current.size()) == segment;
    // Only the last token's prediction is ever needed, except that a prompt's earlier segments
    // just have to be written into memory; running them is the price of that.
    auto input = torch::tensor(current, torch::kInt64).to(device).unsqueeze(0);
    auto [logits, next] = decoder->forward(input, state);
    next_logits = logits[0][-1];
    if (complete) {
      // The segment is done: its keys and values go into memory, unless memory is ablated.
      state = options.carry_memory ? next : ModelState{};
      current.clear();
    }
  };
  // The prompt's full segments go in whole, several to a forward call when the memory is
  // carried (Decoder::segments_per_call); its last partial segment goes in alone.
  const int64_t whole = static_cast<int64_t>(prompt.size()) / segment * segment;
  const int64_t per_call = options.carry_memory ? decoder->segments_per_call(segment) : 1;
  for (int64_t start = 0; start < whole;) {
    const int64_t segments = std::min(per_call, (whole - start) / segment);
    const int64_t end = start + segments * segment;
    std::vector<int64_t> stretch(prompt.begin() + start, prompt.begin() + end);
    auto [logits, next] = decoder->forward(torch::tensor(stretch, torch::kInt64).to(device).unsqueeze(0), state, segments);
    next_logits = logits[0][-1];
    state = options.carry_memory ? next : ModelState{};
    start = end;
    if (options.prompt_read) options.prompt_read(start);
  }
  if (whole < static_cast<int64_t>(prompt.size())) {
    current.assign(prompt.begin() + whole, prompt.end() - 1);
    push(prompt.back());
  }

  std::vector<int64_t> produced;
  while (static_cast<int64_t>(produced.size()) < options.max_new_tokens) {
    const int64_t token = pick(next_logits.to(torch::kCPU), options, generator);
    produced.push_back(token);
    if (on_token) on_token(token);
    if (token == options.stop_token) break;
    push(token);
  }
  return produced;
}

}  // namespace infini
